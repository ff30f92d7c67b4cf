-- int_channels: where a number can be reached in the social networks (DESIGN §6 `channels`).
-- grain: one row per number with a bound account. refresh: full, every run.
-- checks: phone is unique (the classification's audit covers it through the join).
--
-- A network is bound when any of its accounts is bound to the number; active when one of them
-- was seen within the activity window A before as_of; mobile when an active one uses the
-- mobile app (an inactive app cannot show a notification).
with accounts as (
    select * from stg_accounts
),

params as (
    select * from run_params
),

flagged as (
    select
        accounts.phone,
        accounts.network,
        coalesce(accounts.last_seen_at >= params.as_of - params.activity_s, false) as is_active,
        coalesce(accounts.mobile_app, false) as has_mobile_app
    from accounts
    cross join params
),

final as (
    select
        phone,
        max(case when network = 'vk' then 1 else 0 end) = 1 as vk_bound,
        max(case when network = 'vk' and is_active then 1 else 0 end) = 1 as vk_active,
        max(case when network = 'vk' and is_active and has_mobile_app then 1 else 0 end) = 1
            as vk_mobile_app,
        max(case when network = 'ok' then 1 else 0 end) = 1 as ok_bound,
        max(case when network = 'ok' and is_active then 1 else 0 end) = 1 as ok_active,
        max(case when network = 'ok' and is_active and has_mobile_app then 1 else 0 end) = 1
            as ok_mobile_app
    from flagged
    group by phone
)

select * from final
