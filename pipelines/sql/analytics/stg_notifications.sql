-- stg_notifications: the notify path's notifications (the store's `notifications` table).
-- grain: one row per notification. refresh: per query. Only renames and converts.
-- inputs: src_notifications, read from the store by pipelines.store_frames (times naive UTC).
with source as (
    select * from src_notifications
),

final as (
    select
        id as notification_id,
        client_key,
        phone,
        country as prefix,
        decision,
        policy_case,
        number_status,
        sensitive,
        mobile_only,
        fallback,
        status as final_status,
        channel as final_channel,
        created_at as accepted_at,
        expires_at,
        epoch(expires_at) - epoch(created_at) as ttl_seconds
    from source
)

select * from final
