-- int_numbers: every number named by any input, with its first event.
-- grain: one row per number. refresh: full.
-- checks: phone is unique.
with codes as (
    select * from int_code_features
),

sms as (
    select * from int_sms_features
),

registrations as (
    select * from int_registration_features
),

others as (
    select * from int_other_features
),

accounts as (
    select * from stg_accounts
),

first_events as (
    select phone, first_code_at as first_at from codes
    union all
    select phone, first_sms_at as first_at from sms
    union all
    select phone, first_registration_at as first_at from registrations
    union all
    select phone, first_event_at as first_at from others
    union all
    -- a number known only as a bound account has no event: it is unknown
    select phone, cast(null as bigint) as first_at from accounts
),

final as (
    select phone, min(first_at) as first_seen_at
    from first_events
    group by phone
)

select * from final
