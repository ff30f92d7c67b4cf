-- int_profile_mismatches: the registrations that describe a different person than came before.
-- grain: one row per mismatching registration (phone, ts, product, account_id). refresh: full.
-- checks: every row is a registration of stg_registrations.
-- Two registrations describe different people when enough of (name, birth date, gender) are
-- present on both and differ; one differing field is a typo or a re-registration. Region is not
-- compared: people move. A registration is compared with the latest one before it on the
-- number that gives as many of the same fields as a mismatch needs (profile_mismatch_min_fields):
-- registrations that share fewer fields can tell no two people apart (no person fields, the
-- name only, or another pair of fields than the product before asked for), and so stand
-- between no two. Fields are never pieced together from several registrations, which may be
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

numbered as (
    select
        registrations.*,
        -- the person fields break ties, so that the order is total and no engine picks its own
        row_number() over (
            partition by phone order by ts, product, account_id, name_key, birth_date, gender
        ) as seq
    from registrations
),

present as (
    select
        numbered.*,
        numbered.name_key is not null as has_name,
        numbered.birth_date is not null as has_birth_date,
        numbered.gender is not null as has_gender
    from numbered
),

latest_giving as (
    -- the latest earlier registration giving each set of fields (windows, not a join of the
    -- registrations with each other: a number registered thousands of times costs no more)
    select
        present.*,
        last_value(case when has_name then seq end ignore nulls) over earlier as last_n,
        last_value(case when has_birth_date then seq end ignore nulls) over earlier as last_b,
        last_value(case when has_gender then seq end ignore nulls) over earlier as last_g,
        last_value(case when has_name and has_birth_date then seq end ignore nulls)
            over earlier as last_nb,
        last_value(case when has_name and has_gender then seq end ignore nulls)
            over earlier as last_ng,
        last_value(case when has_birth_date and has_gender then seq end ignore nulls)
            over earlier as last_bg,
        last_value(
            case when has_name and has_birth_date and has_gender then seq end ignore nulls
        ) over earlier as last_nbg
    from present
    window earlier as (
        partition by phone order by seq rows between unbounded preceding and 1 preceding
    )
),

compared_with as (
    -- for each registration, the latest earlier one that gives enough of the same fields:
    -- the latest of those giving a set of min_fields fields this one gives too
    select
        latest_giving.phone,
        latest_giving.ts,
        latest_giving.product,
        latest_giving.account_id,
        latest_giving.name_key,
        latest_giving.birth_date,
        latest_giving.gender,
        case params.profile_mismatch_min_fields
            when 1 then greatest(
                case when has_name then last_n end,
                case when has_birth_date then last_b end,
                case when has_gender then last_g end
            )
            when 2 then greatest(
                case when has_name and has_birth_date then last_nb end,
                case when has_name and has_gender then last_ng end,
                case when has_birth_date and has_gender then last_bg end
            )
            else case when has_name and has_birth_date and has_gender then last_nbg end
        end as earlier_seq
    from latest_giving
    cross join params
),

against_previous as (
    select later.phone, later.ts, later.product, later.account_id
    from compared_with as later
    inner join numbered as earlier
        on later.phone = earlier.phone
        and later.earlier_seq = earlier.seq
    cross join params
    where (case when later.name_key <> earlier.name_key then 1 else 0 end)
        + (case when later.birth_date <> earlier.birth_date then 1 else 0 end)
        + (case when later.gender <> earlier.gender then 1 else 0 end)
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
