-- delivery_timing: of the notifications sent in a social network, the share delivered (or
-- read) within each published horizon after they were sent, beside the published share
-- (DESIGN §7, §11: 42 % within a minute, 60 % within an hour, 90 % within 24 h, 85 % read
-- within 24 h).
-- grain: one row per row of src_published, in its order. refresh: per query.
-- inputs: int_notification_steps; src_published (measure: 'delivered' or 'read', label,
-- horizon_seconds, published_share; from delivery.channels.curves, the simulators' curve).
-- The base is every notification that took `sent` (handed to VK or OK, after a confirmed
-- re-verification for a sensitive one); one withdrawn at its TTL is not delivered after it.
-- Counted from `sent`, as the published figures and the simulators' curve are: a sensitive
-- notification is sent only after the person's Yes, and its wait for that answer is the
-- re-verification's, not the network's (delivery_funnel counts from acceptance, as a client
-- sees it).
with steps as (
    select * from int_notification_steps
),

published as (
    select * from src_published
),

sent as (
    select notification_id, taken_at as sent_at from steps where status = 'sent'
),

base as (
    select count(*) as sent_notifications from sent
),

since_sent as (
    select
        steps.notification_id,
        steps.status,
        epoch(steps.taken_at) - epoch(sent.sent_at) as seconds_since_sent
    from steps
    inner join sent on sent.notification_id = steps.notification_id
),

reached as (
    select
        published.row_order,
        count(since_sent.notification_id) as reached
    from published
    left join since_sent
        on since_sent.status = published.measure
        and since_sent.seconds_since_sent <= published.horizon_seconds
    group by published.row_order
),

final as (
    select
        published.measure,
        published.label,
        published.horizon_seconds,
        base.sent_notifications,
        reached.reached,
        reached.reached / nullif(base.sent_notifications, 0) as share,
        published.published_share
    from published
    cross join base
    inner join reached on reached.row_order = published.row_order
    order by published.row_order
)

select * from final
