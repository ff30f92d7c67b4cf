-- int_registration_profiles: each registration beside the one before it on the same number.
-- grain: one row per registration. refresh: full.
-- checks: differing_fields between 0 and 3.
-- Two registrations describe different people when enough of (name, birth date, gender) are
-- present on both and differ. Region is not compared: people move.
with registrations as (
    select * from stg_registrations
),

params as (
    select * from run_params
),

ordered as (
    select
        phone,
        ts,
        product,
        account_id,
        name_key,
        birth_date,
        gender,
        lag(ts) over by_number as previous_ts,
        lag(name_key) over by_number as previous_name_key,
        lag(birth_date) over by_number as previous_birth_date,
        lag(gender) over by_number as previous_gender
    from registrations
    -- the person fields break ties, so that the order is total and no engine picks its own
    window by_number as (
        partition by phone order by ts, product, account_id, name_key, birth_date, gender
    )
),

compared as (
    select
        ordered.*,
        (case when name_key <> previous_name_key then 1 else 0 end)
        + (case when birth_date <> previous_birth_date then 1 else 0 end)
        + (case when gender <> previous_gender then 1 else 0 end) as differing_fields
    from ordered
),

final as (
    select
        compared.*,
        previous_ts is not null
        and differing_fields >= params.profile_mismatch_min_fields as is_profile_mismatch
    from compared
    cross join params
)

select * from final
