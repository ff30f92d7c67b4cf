-- int_tenures: where the current holder's tenure starts, and what evidence is still open.
-- grain: one row per number with change evidence. refresh: full.
-- checks: open numbers have at least one *_at column set.
-- Evidence is open when the bound holder has not proven possession since: the number is then
-- owner_changed. When the holder proved possession after all of it, the number is judged
-- again within the tenure that starts at the latest change.
with evidence as (
    select * from int_change_evidence
),

proofs as (
    select * from int_holder_proofs
),

params as (
    select * from run_params
),

failures_per_number as (
    select phone, count(*) as failures
    from evidence
    where reason = 'SMS_PERMANENT_FAILURES'
    group by phone
),

counted as (
    -- one unknown_subscriber report can be an operator glitch; it takes several
    select evidence.phone, evidence.ts, evidence.reason
    from evidence
    left join failures_per_number on evidence.phone = failures_per_number.phone
    cross join params
    where evidence.reason <> 'SMS_PERMANENT_FAILURES'
        or failures_per_number.failures >= params.permanent_failures_min
),

unanswered as (
    select
        counted.phone,
        counted.reason,
        max(counted.ts) as last_at,
        count(*) as pieces
    from counted
    left join proofs on counted.phone = proofs.phone
    where proofs.last_proof_at is null or counted.ts > proofs.last_proof_at
    group by counted.phone, counted.reason
),

open_evidence as (
    select
        unanswered.phone,
        max(case when reason = 'PROFILE_MISMATCH' then last_at end) as profile_mismatch_at,
        max(case when reason = 'NUMBER_CHANGE_REPORTED' then last_at end) as number_change_at,
        max(case when reason = 'SMS_PERMANENT_FAILURES' then last_at end) as permanent_failure_at,
        max(case when reason = 'OWNER_DENIED' then last_at end) as owner_denied_at
    from unanswered
    cross join params
    where unanswered.reason <> 'SMS_PERMANENT_FAILURES'
        or unanswered.pieces >= params.permanent_failures_min
    group by unanswered.phone
),

latest_change as (
    select phone, max(ts) as last_change_at
    from counted
    group by phone
),

final as (
    select
        latest_change.phone,
        latest_change.last_change_at as tenure_start,
        proofs.last_proof_at,
        open_evidence.phone is not null as is_open,
        open_evidence.profile_mismatch_at,
        open_evidence.number_change_at,
        open_evidence.permanent_failure_at,
        open_evidence.owner_denied_at
    from latest_change
    left join proofs on latest_change.phone = proofs.phone
    left join open_evidence on latest_change.phone = open_evidence.phone
)

select * from final
