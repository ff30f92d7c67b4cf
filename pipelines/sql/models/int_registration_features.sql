-- int_registration_features: registrations per number, over all time and within the tenure.
-- grain: one row per number with a registration. refresh: full.
-- checks: phone is unique.
with registrations as (
    select * from stg_registrations
),

tenures as (
    select * from int_tenures
),

marked as (
    select
        registrations.phone,
        registrations.ts,
        registrations.product in ('vk', 'ok') as is_social,
        tenures.tenure_start is null or registrations.ts >= tenures.tenure_start as in_tenure
    from registrations
    left join tenures on registrations.phone = tenures.phone
),

final as (
    select
        phone,
        min(ts) as first_registration_at,
        min(case when in_tenure then ts end) as first_tenure_registration_at,
        max(case when in_tenure then ts end) as last_tenure_registration_at,
        -- registrations at two moments at least: rows at one moment are one occasion, whether
        -- a registration logged twice or two accounts made in one sign-up
        min(case when in_tenure then ts end) < max(case when in_tenure then ts end)
            as several_tenure_registrations,
        count(case when in_tenure and is_social then 1 end) as social_registrations,
        min(case when in_tenure and is_social then ts end) as first_social_registration_at
    from marked
    group by phone
)

select * from final
