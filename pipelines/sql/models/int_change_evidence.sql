-- int_change_evidence: every event that says the number may have passed to someone else.
-- grain: one row per piece of evidence. refresh: full.
-- checks: reason is one of the four owner-change reasons.
-- A temporary SMS error (absent_subscriber and the like) is never evidence: only
-- unknown_subscriber says the number went out of service.
with mismatches as (
    select * from int_profile_mismatches
),

number_changes as (
    select * from stg_number_changes
),

verifications as (
    select * from stg_verifications
),

deliveries as (
    select * from stg_sms_deliveries
),

final as (
    select phone, ts, 'PROFILE_MISMATCH' as reason
    from mismatches

    union all

    select phone, ts, 'NUMBER_CHANGE_REPORTED' as reason
    from number_changes

    union all

    select phone, ts, 'OWNER_DENIED' as reason
    from verifications
    where result = 'denied'

    union all

    select phone, ts, 'SMS_PERMANENT_FAILURES' as reason
    from deliveries
    where status = 'failed' and error = 'unknown_subscriber'
)

select * from final
