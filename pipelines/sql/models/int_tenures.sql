-- int_tenures: where the current holder's tenure starts, and what evidence is still open.
-- grain: one row per number with change evidence. refresh: full.
-- checks: open numbers have at least one *_at column set.
-- Evidence is open when a bound account's holder has not proven possession since: the number
-- is then owner_changed, and its tenure starts at the latest evidence. Evidence answered by a
-- later proof either started a new tenure (a bound account first appeared at or after it: a new
-- holder) or is refuted (every bound account was proving possession before it and still is:
-- the same holder, and the tenure goes on). A number with no bound account cannot tell the two
-- apart and takes any answered evidence as the start of a new tenure.
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
    select phone, count(distinct ts) as failures
    from evidence
    where reason = 'SMS_PERMANENT_FAILURES'
    group by phone
),

counted as (
    -- unknown_subscriber reports count once the number has permanent_failures_min of them at
    -- distinct moments (a report logged twice is one report)
    select evidence.phone, evidence.ts, evidence.reason
    from evidence
    left join failures_per_number on evidence.phone = failures_per_number.phone
    cross join params
    where evidence.reason <> 'SMS_PERMANENT_FAILURES'
        or failures_per_number.failures >= params.permanent_failures_min
),

judged as (
    select
        counted.phone,
        counted.ts,
        counted.reason,
        proofs.last_proof_at is null or counted.ts > proofs.last_proof_at as is_unanswered,
        proofs.newest_account_since is null
        or counted.ts <= proofs.newest_account_since as starts_tenure
    from counted
    left join proofs on counted.phone = proofs.phone
),

open_evidence as (
    select
        phone,
        max(case when reason = 'PROFILE_MISMATCH' then ts end) as profile_mismatch_at,
        max(case when reason = 'NUMBER_CHANGE_REPORTED' then ts end) as number_change_at,
        max(case when reason = 'SMS_PERMANENT_FAILURES' then ts end) as permanent_failure_at,
        max(case when reason = 'OWNER_DENIED' then ts end) as owner_denied_at,
        max(ts) as last_open_at
    from judged
    where is_unanswered
    group by phone
),

answered as (
    select phone, max(case when starts_tenure then ts end) as last_change_at
    from judged
    group by phone
),

final as (
    select
        answered.phone,
        coalesce(open_evidence.last_open_at, answered.last_change_at) as tenure_start,
        open_evidence.phone is not null as is_open,
        open_evidence.profile_mismatch_at,
        open_evidence.number_change_at,
        open_evidence.permanent_failure_at,
        open_evidence.owner_denied_at
    from answered
    left join open_evidence on answered.phone = open_evidence.phone
)

select * from final
