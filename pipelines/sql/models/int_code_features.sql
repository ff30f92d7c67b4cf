-- int_code_features: code entries per number, over all time and within the current tenure.
-- grain: one row per number with a code entry. refresh: full.
-- checks: free_code_days <= free_social_codes <= social_codes.
-- A registration's own code (entered by the registering account within the grace around its
-- registration) proves possession once; it is told apart from codes entered later. A social code
-- logged without its account (the contract allows it) is a registration's own code when an
-- account of its network registered on the number within the grace around it. Around, not only
-- after: in a sign-up the code is entered before the account, and so its row, exists.
with code_entries as (
    select * from stg_code_entries
),

registrations as (
    select * from stg_registrations
),

tenures as (
    select * from int_tenures
),

params as (
    select * from run_params
),

distinct_social_codes as (
    -- a row that repeats another in every column is one entry logged twice: it counts once.
    -- Only social codes are counted; the others give only the first code's time, so they are
    -- neither made distinct nor looked up among the registrations.
    select distinct phone, ts, product, account_id
    from code_entries
    where product in ('vk', 'ok')
),

account_registrations as (
    -- only social codes are told apart, so only social accounts' registrations are needed
    select phone, product, account_id, min(ts) as registered_at
    from registrations
    where product in ('vk', 'ok')
    group by phone, product, account_id
),

unnamed_registration_codes as (
    -- the social codes logged without an account that came within the grace around a
    -- registration of their network, once each however many such registrations there were.
    -- code_entries is read again rather than through distinct_social_codes, which DuckDB
    -- would store whole before either use
    select code_entries.phone, code_entries.ts, code_entries.product
    from code_entries
    inner join account_registrations
        on code_entries.phone = account_registrations.phone
        and code_entries.product = account_registrations.product
    cross join params
    where code_entries.account_id is null
        and code_entries.ts between account_registrations.registered_at
        - params.registration_code_grace_s
        and account_registrations.registered_at + params.registration_code_grace_s
    group by code_entries.phone, code_entries.ts, code_entries.product
),

marked_social as (
    select
        distinct_social_codes.phone,
        distinct_social_codes.ts,
        coalesce(
            distinct_social_codes.ts between account_registrations.registered_at
            - params.registration_code_grace_s
            and account_registrations.registered_at + params.registration_code_grace_s,
            false
        )
        or unnamed_registration_codes.phone is not null as is_registration_code
    from distinct_social_codes
    cross join params
    left join account_registrations
        on distinct_social_codes.phone = account_registrations.phone
        and distinct_social_codes.product = account_registrations.product
        and distinct_social_codes.account_id = account_registrations.account_id
    left join unnamed_registration_codes
        on distinct_social_codes.account_id is null
        and distinct_social_codes.phone = unnamed_registration_codes.phone
        and distinct_social_codes.ts = unnamed_registration_codes.ts
        and distinct_social_codes.product = unnamed_registration_codes.product
),

all_codes as (
    select phone, ts, true as is_social, is_registration_code
    from marked_social

    union all

    select phone, ts, false as is_social, false as is_registration_code
    from code_entries
    where product not in ('vk', 'ok')
),

marked as (
    select
        all_codes.phone,
        all_codes.ts,
        all_codes.is_social,
        all_codes.is_registration_code,
        tenures.tenure_start is null or all_codes.ts >= tenures.tenure_start as in_tenure
    from all_codes
    left join tenures on all_codes.phone = tenures.phone
),

final as (
    select
        phone,
        min(ts) as first_code_at,
        min(case when in_tenure then ts end) as first_tenure_code_at,
        count(case when in_tenure and is_social then 1 end) as social_codes,
        min(case when in_tenure and is_social then ts end) as first_social_code_at,
        max(case when in_tenure and is_social then ts end) as last_social_code_at,
        count(case when in_tenure and is_social and not is_registration_code then 1 end)
            as free_social_codes,
        -- the days holding such a code: a burst of codes in one sitting is one occasion, so
        -- that it stands for one code, not for years of them (SPARSE_CODE_ENTRIES)
        count(
            distinct case
                when in_tenure and is_social and not is_registration_code then floor(ts / 86400)
            end
        ) as free_code_days,
        max(case when in_tenure and is_social and not is_registration_code then ts end)
            as last_free_social_code_at,
        max(case when in_tenure and is_social and is_registration_code then ts end)
            as last_registration_code_at
    from marked
    group by phone
)

select * from final
