-- stg_notification_events: every status a notification took, with its time (the store's
-- `notification_events`, the history GET /v1/notifications/{id} shows).
-- grain: one row per status taken. refresh: per query. Only renames and converts.
-- inputs: src_notification_events, read from the store by pipelines.store_frames (times naive
-- UTC; `id` grows with each insert, so it orders the statuses taken at one time; `detail` is
-- the event's JSON text). `after_refusal`: the step the social networks' refusals led to (an
-- SMS, or failed without a fallback); its detail names the networks that refused.
-- `after_code_failed`: the SMS that three wrong codes led to (no denial: a code is no answer).
with source as (
    select * from src_notification_events
),

final as (
    select
        id as event_id,
        notification_id,
        status,
        "at" as status_at,
        json_extract(detail, '$.refused_by') is not null as after_refusal,
        coalesce(json_extract(detail, '$.code_failed') = 'true', false) as after_code_failed
    from source
)

select * from final
