-- int_registration_profiles: each registration set against the people registered before it.
-- grain: one row per registration. refresh: full.
-- checks: differing_fields between 0 and 3.
-- Two registrations describe different people when enough of (name, birth date, gender) are
-- present on both and differ; one differing field is a typo or a re-registration. Region is not
-- compared: people move. A registration is compared with the one just before it on the number,
-- and with the registrations of the accounts bound to the number now (their holders are the
-- people a delivery would reach), whichever came first.
with registrations as (
    select * from stg_registrations
),

accounts as (
    select * from stg_accounts
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
        row_number() over by_number as position,
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

bound_registrations as (
    select
        registrations.phone,
        registrations.ts,
        registrations.account_id,
        registrations.name_key,
        registrations.birth_date,
        registrations.gender
    from registrations
    inner join accounts
        on registrations.phone = accounts.phone
        and registrations.product = accounts.network
        and registrations.account_id = accounts.account_id
),

against_bound as (
    -- the most differing earlier registration of another account bound to the number now
    select
        ordered.phone,
        ordered.position,
        max(
            (case when ordered.name_key <> bound.name_key then 1 else 0 end)
            + (case when ordered.birth_date <> bound.birth_date then 1 else 0 end)
            + (case when ordered.gender <> bound.gender then 1 else 0 end)
        ) as differing_from_bound
    from ordered
    inner join bound_registrations as bound
        on ordered.phone = bound.phone
        and ordered.account_id <> bound.account_id
        and ordered.ts > bound.ts
    group by ordered.phone, ordered.position
),

compared as (
    select
        ordered.*,
        (case when ordered.name_key <> ordered.previous_name_key then 1 else 0 end)
        + (case when ordered.birth_date <> ordered.previous_birth_date then 1 else 0 end)
        + (case when ordered.gender <> ordered.previous_gender then 1 else 0 end)
            as differing_fields,
        coalesce(against_bound.differing_from_bound, 0) as differing_from_bound
    from ordered
    left join against_bound
        on ordered.phone = against_bound.phone
        and ordered.position = against_bound.position
),

final as (
    select
        compared.*,
        (previous_ts is not null and differing_fields >= params.profile_mismatch_min_fields)
        or differing_from_bound >= params.profile_mismatch_min_fields as is_profile_mismatch
    from compared
    cross join params
)

select * from final
