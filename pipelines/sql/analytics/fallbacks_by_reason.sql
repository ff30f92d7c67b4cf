-- fallbacks_by_reason: why notifications went by SMS, and how their SMS ended.
-- grain: one row per reason with at least one SMS, most frequent first. refresh: per query.
-- inputs: int_notification_steps.
-- A notification's reason is read from the status it left for `sms_sent` (its first time):
--   the policy decided SMS at acceptance: the policy table's row (OWNER_CHANGED, UNKNOWN,
--     NO_ACTIVE_ACCOUNT, NO_MOBILE_APP; any other row a client's own policy sends by SMS);
--   CHANNEL_REFUSED: the policy chose a social network but every network refused it (the
--     snapshot's account was no longer active, say);
--   REVERIFICATION_DENIED: the person answered No to the re-verification;
--   REVERIFICATION_CODE_FAILED: the person entered three wrong codes (no denial: the number
--     is not judged by it);
--   TTL_NOT_DELIVERED, TTL_NOT_ANSWERED, TTL_NOT_DISPATCHED: the TTL ran out while the message
--     waited for delivery in the network, for the answer to a re-verification, or to be sent.
-- shares are of all the notifications that went by SMS.
with steps as (
    select * from int_notification_steps
),

sms as (
    select * from steps where status = 'sms_sent'
),

expired as (
    select notification_id, left_status as expired_from from steps where status = 'expired'
),

outcomes as (
    select
        notification_id,
        bool_or(status = 'sms_delivered') as sms_delivered,
        bool_or(status = 'sms_failed') as sms_failed
    from steps
    group by notification_id
),

reasoned as (
    select
        sms.notification_id,
        case
            when sms.left_status = 'accepted' and sms.decision = 'sms' then sms.policy_case
            when sms.after_refusal or sms.left_status = 'accepted' then 'CHANNEL_REFUSED'
            when sms.left_status = 'reverify_pending' and sms.after_code_failed
                then 'REVERIFICATION_CODE_FAILED'
            when sms.left_status = 'reverify_pending' then 'REVERIFICATION_DENIED'
            when expired.expired_from = 'sent' then 'TTL_NOT_DELIVERED'
            when expired.expired_from = 'reverify_pending' then 'TTL_NOT_ANSWERED'
            else 'TTL_NOT_DISPATCHED'
        end as reason
    from sms
    left join expired on expired.notification_id = sms.notification_id
),

final as (
    select
        reasoned.reason,
        count(*) as notifications,
        count(*) / sum(count(*)) over () as share,
        count(*) filter (where outcomes.sms_delivered) as sms_delivered,
        count(*) filter (where outcomes.sms_failed) as sms_failed
    from reasoned
    inner join outcomes on outcomes.notification_id = reasoned.notification_id
    group by reasoned.reason
    order by notifications desc, reasoned.reason
)

select * from final
