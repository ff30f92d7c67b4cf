-- int_notification_steps: when each notification first took each status, how long after its
-- acceptance, and the status it left to take it.
-- grain: one row per notification and status it took (a status taken twice counts from its
-- first time). refresh: per query.
-- A claim on a social network that the networks refused is left out: the history keeps it,
-- as the client was told of it, but the message never left. The refusal shows in the step it
-- led to; the claims it refused are those of the kind (`sent` for a message,
-- `reverify_pending` for a prompt) last claimed before it. A prompt answered Yes, then a
-- message refused, keeps its `reverify_pending`: that prompt was shown. `after_refusal`: the
-- step was the one the refusals led to.
-- inputs: stg_notifications, stg_notification_events; $ttl_seconds: only the notifications of
-- that TTL, or all when null.
with notifications as (
    select * from stg_notifications
    where $ttl_seconds is null or ttl_seconds = $ttl_seconds
),

events as (
    select * from stg_notification_events
),

refusals as (
    select notification_id, min(event_id) as refusal_event_id
    from events
    where after_refusal
    group by notification_id
),

refused_claims as (
    select
        refusals.notification_id,
        refusals.refusal_event_id,
        arg_max(events.status, events.event_id) as refused_status
    from refusals
    inner join events
        on events.notification_id = refusals.notification_id
        and events.event_id < refusals.refusal_event_id
        and events.status in ('sent', 'reverify_pending')
    group by refusals.notification_id, refusals.refusal_event_id
),

taken as (
    select events.*
    from events
    left join refused_claims on refused_claims.notification_id = events.notification_id
    where
        refused_claims.notification_id is null
        or events.status <> refused_claims.refused_status
        or events.event_id > refused_claims.refusal_event_id
),

ordered as (
    select
        *,
        lag(status) over (partition by notification_id order by status_at, event_id) as left_status
    from taken
),

first_taken as (
    select
        notification_id,
        status,
        min(status_at) as taken_at,
        arg_min(left_status, event_id) as left_status,
        arg_min(after_refusal, event_id) as after_refusal,
        arg_min(after_code_failed, event_id) as after_code_failed
    from ordered
    group by notification_id, status
),

final as (
    select
        notifications.notification_id,
        notifications.decision,
        notifications.policy_case,
        notifications.fallback,
        notifications.ttl_seconds,
        notifications.accepted_at,
        first_taken.status,
        first_taken.left_status,
        first_taken.after_refusal,
        first_taken.after_code_failed,
        first_taken.taken_at,
        epoch(first_taken.taken_at) - epoch(notifications.accepted_at) as seconds_since_accepted
    from first_taken
    inner join notifications on notifications.notification_id = first_taken.notification_id
)

select * from final
