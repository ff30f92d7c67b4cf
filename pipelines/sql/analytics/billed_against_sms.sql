-- billed_against_sms: what a day's notifications were billed (the ledger) beside what the same
-- notifications would have cost all by SMS, and what the brief's model expected, by country.
-- grain: one row per country with notifications (a null country for numbers outside the
-- table), most notifications first. refresh: per query.
-- inputs: src_modelled (cost_by_country over the day's notification_traffic: all_sms_rub,
-- every SMS delivered and billed, and social_first_rub, the brief's model), stg_billing_ledger,
-- stg_notifications.
-- saving_share: 1 - billed / all-SMS; billed counts only what was delivered, so failed SMS and
-- expired notifications lower it as they lower the bill. Only the bills of the notifications
-- compared count: the ledger keeps every bill, and the store forgets notifications past their
-- retention (OWNERSHIP_NOTIFICATION_RETENTION_DAYS), whose all-SMS cost is no longer known.
with modelled as (
    select * from src_modelled
),

ledger as (
    select * from stg_billing_ledger
),

notifications as (
    select * from stg_notifications
),

billing as (
    select ledger.*
    from ledger
    where ledger.notification_id in (select notification_id from notifications)
),

billed as (
    select
        prefix,
        count(*) as delivered,
        count(*) filter (where channel in ('vk', 'ok')) as social_delivered,
        cast(sum(price) as double) as billed_rub,
        cast(coalesce(sum(price) filter (where channel in ('vk', 'ok')), 0) as double)
            as social_billed_rub,
        cast(coalesce(sum(price) filter (where channel = 'sms'), 0) as double) as sms_billed_rub
    from billing
    group by prefix
),

final as (
    select
        modelled.iso,
        modelled.country,
        modelled.prefix,
        -- counted here, where the model's traffic may be fractional
        cast(modelled.notifications as bigint) as notifications,
        coalesce(billed.delivered, 0) as delivered,
        coalesce(billed.social_delivered, 0) as social_delivered,
        modelled.all_sms_rub,
        modelled.social_first_rub as modelled_rub,
        coalesce(billed.billed_rub, 0) as billed_rub,
        coalesce(billed.social_billed_rub, 0) as social_billed_rub,
        coalesce(billed.sms_billed_rub, 0) as sms_billed_rub,
        1 - coalesce(billed.billed_rub, 0) / nullif(modelled.all_sms_rub, 0) as saving_share
    from modelled
    left join billed on billed.prefix is not distinct from modelled.prefix
    order by modelled.notifications desc, modelled.iso nulls last
)

select * from final
