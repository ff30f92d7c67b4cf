-- notification_traffic: the notifications each number was sent, as traffic for the cost
-- comparison (cost_by_country), and the first time one was accepted (when prices are read).
-- grain: one row per number with a notification. refresh: per query.
-- inputs: stg_notifications.
with notifications as (
    select * from stg_notifications
),

final as (
    select
        phone,
        cast(count(*) as double) as notifications,
        min(accepted_at) as first_accepted_at
    from notifications
    group by phone
)

select * from final
