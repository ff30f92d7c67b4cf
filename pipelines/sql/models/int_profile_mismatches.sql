-- int_profile_mismatches: the registrations that describe a different person than came before.
-- grain: one row per mismatching registration (phone, ts, product, account_id). refresh: full.
-- checks: every row is a registration of stg_registrations.
-- Two registrations describe different people when enough of (name, birth date, gender) are
-- present on both and differ; one differing field is a typo or a re-registration. Region is not
-- compared: people move. A registration is compared with the one before it on the number that
-- gives as many fields as a mismatch needs (profile_mismatch_min_fields): one that gives fewer
-- (no person fields, or the name only) can differ from no one, and stands between no two
-- registrations. Fields are never pieced together from several registrations, which may be
-- several people's. Each is also compared with the earlier registrations of the other accounts
-- bound to the number now (their holders are the people a delivery would reach).
with accounts as (
    select * from stg_accounts
),

params as (
    select * from run_params
),

field_ranges as (
    -- stg_registrations is read twice, here and below, rather than through one shared CTE,
    -- which DuckDB would store whole before either use
    select
        phone,
        min(name_key) < max(name_key) as names_vary,
        min(birth_date) < max(birth_date) as birth_dates_vary,
        min(gender) < max(gender) as genders_vary
    from stg_registrations
    group by phone
),

varied_numbers as (
    -- two registrations can differ in no more fields than vary on the number at all, so the
    -- numbers where too few vary (most of them) are left out before anything is sorted
    -- (profile_mismatch_min_fields is 1 to 3: RuleSettings refuses anything else)
    select field_ranges.phone
    from field_ranges
    cross join params
    where
        (case when field_ranges.names_vary then 1 else 0 end)
        + (case when field_ranges.birth_dates_vary then 1 else 0 end)
        + (case when field_ranges.genders_vary then 1 else 0 end)
        >= params.profile_mismatch_min_fields
),

registrations as (
    select stg_registrations.*
    from stg_registrations
    inner join varied_numbers on stg_registrations.phone = varied_numbers.phone
),

comparable as (
    -- the registrations that give enough fields to differ from another person's
    select registrations.*
    from registrations
    cross join params
    where
        (case when registrations.name_key is null then 0 else 1 end)
        + (case when registrations.birth_date is null then 0 else 1 end)
        + (case when registrations.gender is null then 0 else 1 end)
        >= params.profile_mismatch_min_fields
),

with_previous as (
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
    from comparable
    -- the person fields break ties, so that the order is total and no engine picks its own
    window by_number as (
        partition by phone order by ts, product, account_id, name_key, birth_date, gender
    )
),

against_previous as (
    select phone, ts, product, account_id
    from with_previous
    cross join params
    where previous_ts is not null
        and (case when name_key <> previous_name_key then 1 else 0 end)
        + (case when birth_date <> previous_birth_date then 1 else 0 end)
        + (case when gender <> previous_gender then 1 else 0 end)
        >= params.profile_mismatch_min_fields
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
    -- a later registration of another account that differs from a bound account's person
    select later.phone, later.ts, later.product, later.account_id
    from registrations as later
    inner join bound_registrations as bound
        on later.phone = bound.phone
        and later.account_id <> bound.account_id
        and later.ts > bound.ts
    cross join params
    where (case when later.name_key <> bound.name_key then 1 else 0 end)
        + (case when later.birth_date <> bound.birth_date then 1 else 0 end)
        + (case when later.gender <> bound.gender then 1 else 0 end)
        >= params.profile_mismatch_min_fields
),

final as (
    select phone, ts, product, account_id from against_previous
    union
    select phone, ts, product, account_id from against_bound
)

select * from final
