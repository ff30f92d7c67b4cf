-- cost_total: the cost comparison of cost_by_country over all countries.
-- grain: one row. refresh: per query. inputs: cost_by_country.
-- checks: notifications without a price (numbers outside the country or price tables) are
-- counted apart, never costed as zero.
with costs as (
    select * from cost_by_country
),

final as (
    select
        sum(notifications) as notifications,
        coalesce(sum(notifications) filter (where all_sms_rub is null), 0)
            as notifications_without_price,
        sum(all_sms_rub) as all_sms_rub,
        sum(social_first_rub) as social_first_rub,
        1 - sum(social_first_rub) / nullif(sum(all_sms_rub), 0) as saving_share
    from costs
)

select * from final
