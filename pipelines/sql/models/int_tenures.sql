-- int_tenures: where the current holder's tenure starts, and what evidence is still open.
-- grain: one row per number with change evidence. refresh: full.
-- checks: open numbers have at least one *_at column set.
-- Evidence is open when a bound account's holder has not proven possession since: the number
-- is then owner_changed, and its tenure starts at the latest evidence. Evidence answered by a
-- later proof either started a new tenure (a bound account first appeared at or after it: a new
-- holder) or is refuted (every bound account was proving possession before it and still is:
-- the same holder, and the tenure goes on). A number with no bound account cannot tell the two
-- apart and takes any answered evidence as the start of a new tenure.
-- unknown_subscriber reports count as evidence once permanent_failures_min of them, at distinct
-- moments, stand for the same thing: the open ones (after the bound holder's last proof) are
-- counted apart from those a later proof answered, so that an old glitch or an earlier
-- tenure's failure never adds to a new one.
with evidence as (
    select * from int_change_evidence
),

proofs as (
    select * from int_holder_proofs
),

params as (
    select * from run_params
),

judged as (
    select
        evidence.phone,
        evidence.ts,
        evidence.reason,
        proofs.last_proof_at is null or evidence.ts > proofs.last_proof_at as is_unanswered,
        proofs.newest_account_since is null
        or evidence.ts <= proofs.newest_account_since as starts_tenure
    from evidence
    left join proofs on evidence.phone = proofs.phone
),

standing as (
    -- what each piece of evidence stands for now
    select
        judged.*,
        case
            when is_unanswered then 'open'
            when starts_tenure then 'new holder'
            else 'refuted'
        end as answer
    from judged
),

failures_per_answer as (
    select phone, answer, count(distinct ts) as failures
    from standing
    where reason = 'SMS_PERMANENT_FAILURES'
    group by phone, answer
),

counted as (
    -- failures count once there are enough of them standing for the same thing (a report
    -- logged twice is one report); every other piece of evidence counts alone
    select
        standing.phone,
        standing.ts,
        standing.reason,
        standing.is_unanswered,
        standing.starts_tenure
    from standing
    left join failures_per_answer
        on standing.phone = failures_per_answer.phone
        and standing.answer = failures_per_answer.answer
    cross join params
    where standing.reason <> 'SMS_PERMANENT_FAILURES'
        or failures_per_answer.failures >= params.permanent_failures_min
),

open_evidence as (
    select
        phone,
        max(case when reason = 'PROFILE_MISMATCH' then ts end) as profile_mismatch_at,
        max(case when reason = 'NUMBER_CHANGE_REPORTED' then ts end) as number_change_at,
        max(case when reason = 'SMS_PERMANENT_FAILURES' then ts end) as permanent_failure_at,
        max(case when reason = 'OWNER_DENIED' then ts end) as owner_denied_at,
        max(ts) as last_open_at
    from counted
    where is_unanswered
    group by phone
),

answered as (
    select phone, max(case when starts_tenure then ts end) as last_change_at
    from counted
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
