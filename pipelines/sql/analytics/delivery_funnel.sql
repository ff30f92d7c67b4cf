-- delivery_funnel: how many notifications took each status of DESIGN §7, and how soon after
-- their acceptance: accepted → (reverify_pending) → sent → delivered → read, and the fallbacks
-- expired → sms_sent → sms_delivered | sms_failed, or failed.
-- grain: one row per status of $stages, in that order, zero where none took it.
-- refresh: per query. inputs: int_notification_steps, $stages (ownership.notifications'
-- NotificationStatus, in order).
-- within_* count the notifications that took the status at most that long after acceptance
-- (the bound included); shares are of all accepted notifications.
with steps as (
    select * from int_notification_steps
),

stages as (
    select unnest(cast($stages as varchar[])) as stage
),

accepted as (
    select count(*) filter (where status = 'accepted') as all_accepted from steps
),

counted as (
    select
        status as stage,
        count(*) as notifications,
        count(*) filter (where seconds_since_accepted <= 60) as within_1m,
        count(*) filter (where seconds_since_accepted <= 3600) as within_1h,
        count(*) filter (where seconds_since_accepted <= 86400) as within_24h,
        median(seconds_since_accepted) as median_seconds
    from steps
    group by status
),

final as (
    select
        stages.stage,
        coalesce(counted.notifications, 0) as notifications,
        coalesce(counted.notifications, 0) / nullif(accepted.all_accepted, 0) as share_of_accepted,
        coalesce(counted.within_1m, 0) as within_1m,
        coalesce(counted.within_1h, 0) as within_1h,
        coalesce(counted.within_24h, 0) as within_24h,
        counted.median_seconds
    from stages
    cross join accepted
    left join counted on counted.stage = stages.stage
    order by list_position(cast($stages as varchar[]), stages.stage)
)

select * from final
