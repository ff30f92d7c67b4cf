-- int_registration_features: registrations per number, over all time and within the tenure.
-- grain: one row per number with a registration. refresh: full.
-- checks: phone is unique.
-- The tenure's registrations agree (PROFILES_MATCH) when they were made at two moments at
-- least, one person field (name, birth date, gender) at least is given at two moments, and no
-- field has two different values among them (a missing value contradicts none). Rows at one
-- moment (seconds) are one occasion, whether a registration logged twice or two accounts made
-- in one sign-up. Region is not compared: people move. Cheap aggregates decide it: a field
-- has one value when its least equals its greatest.
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
        tenures.tenure_start is null or registrations.ts >= tenures.tenure_start as in_tenure,
        registrations.name_key,
        registrations.birth_date,
        registrations.gender
    from registrations
    left join tenures on registrations.phone = tenures.phone
),

tenure_fields as (
    -- the person fields of the tenure's registrations only
    select
        phone,
        ts,
        is_social,
        in_tenure,
        case when in_tenure then name_key end as name_key,
        case when in_tenure then birth_date end as birth_date,
        case when in_tenure then gender end as gender
    from marked
),

aggregated as (
    select
        phone,
        min(ts) as first_registration_at,
        min(case when in_tenure then ts end) as first_tenure_registration_at,
        max(case when in_tenure then ts end) as last_tenure_registration_at,
        count(case when in_tenure and is_social then 1 end) as social_registrations,
        min(case when in_tenure and is_social then ts end) as first_social_registration_at,
        min(case when name_key is not null then ts end) as first_name_at,
        max(case when name_key is not null then ts end) as last_name_at,
        min(case when birth_date is not null then ts end) as first_birth_date_at,
        max(case when birth_date is not null then ts end) as last_birth_date_at,
        min(case when gender is not null then ts end) as first_gender_at,
        max(case when gender is not null then ts end) as last_gender_at,
        coalesce(min(name_key) = max(name_key), true) as one_name,
        coalesce(min(birth_date) = max(birth_date), true) as one_birth_date,
        coalesce(min(gender) = max(gender), true) as one_gender
    from tenure_fields
    group by phone
),

final as (
    select
        phone,
        first_registration_at,
        first_tenure_registration_at,
        last_tenure_registration_at,
        social_registrations,
        first_social_registration_at,
        coalesce(
            first_tenure_registration_at < last_tenure_registration_at
            and (
                first_name_at < last_name_at
                or first_birth_date_at < last_birth_date_at
                or first_gender_at < last_gender_at
            )
            and one_name and one_birth_date and one_gender,
            false
        ) as profiles_agree
    from aggregated
)

select * from final
