-- billed_total: billed_against_sms over all countries.
-- grain: one row. refresh: per query. inputs: billed_against_sms.
-- checks: notifications without an SMS price (numbers outside the country or price tables) are
-- counted apart; their bill still counts.
with costs as (
    select * from billed_against_sms
),

final as (
    select
        cast(sum(notifications) as bigint) as notifications,
        cast(coalesce(sum(notifications) filter (where all_sms_rub is null), 0) as bigint)
            as notifications_without_price,
        cast(sum(delivered) as bigint) as delivered,
        cast(sum(social_delivered) as bigint) as social_delivered,
        sum(all_sms_rub) as all_sms_rub,
        sum(modelled_rub) as modelled_rub,
        sum(billed_rub) as billed_rub,
        sum(social_billed_rub) as social_billed_rub,
        sum(sms_billed_rub) as sms_billed_rub,
        1 - sum(billed_rub) / nullif(sum(all_sms_rub), 0) as saving_share
    from costs
)

select * from final
