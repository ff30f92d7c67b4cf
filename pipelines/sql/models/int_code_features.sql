-- int_code_features: code entries per number, over all time and within the current tenure.
-- grain: one row per number with a code entry. refresh: full.
-- checks: free_social_codes <= social_codes.
-- A registration's own code (entered by the registering account within the grace after it
-- registered) proves possession once; it is told apart from codes entered later.
with codes as (
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

account_registrations as (
    -- only social codes are told apart, so only social accounts' registrations are needed
    select phone, product, account_id, min(ts) as registered_at
    from registrations
    where product in ('vk', 'ok')
    group by phone, product, account_id
),

marked as (
    select
        codes.phone,
        codes.ts,
        codes.product in ('vk', 'ok') as is_social,
        tenures.tenure_start is null or codes.ts >= tenures.tenure_start as in_tenure,
        coalesce(
            codes.ts between account_registrations.registered_at
            and account_registrations.registered_at + params.registration_code_grace_s,
            false
        ) as is_registration_code
    from codes
    cross join params
    left join tenures on codes.phone = tenures.phone
    left join account_registrations
        on codes.phone = account_registrations.phone
        and codes.product = account_registrations.product
        and codes.account_id = account_registrations.account_id
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
        max(case when in_tenure and is_social and not is_registration_code then ts end)
            as last_free_social_code_at,
        max(case when in_tenure and is_social and is_registration_code then ts end)
            as last_registration_code_at
    from marked
    group by phone
)

select * from final
