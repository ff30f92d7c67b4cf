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

phones as (
    select phone from codes
    union
    select phone from sms
    union
    select phone from registrations
    union
    select phone from others
    union
    select phone from accounts
),

final as (
    select
        phones.phone,
        least(
            codes.first_code_at,
            sms.first_sms_at,
            registrations.first_registration_at,
            others.first_event_at
        ) as first_seen_at
    from phones
    left join codes on phones.phone = codes.phone
    left join sms on phones.phone = sms.phone
    left join registrations on phones.phone = registrations.phone
    left join others on phones.phone = others.phone
)

select * from final
