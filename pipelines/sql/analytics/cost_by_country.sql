-- cost_by_country: the cost of the same traffic sent all by SMS, and social-first with SMS
-- fallback (DESIGN §7), at the prices in force.
-- grain: one row per country with traffic (a null country, and null costs, for numbers outside
-- the table), most notifications first. refresh: per query.
-- inputs: number_countries over the traffic (phone, notifications), country_coverage,
-- src_prices (each country's price per delivered message by channel, from
-- ownership.prices.PriceTable), $delivered_share.
-- The model: `coverage` of a country's notifications go to a number with an active social
-- account, and $delivered_share of those are delivered within their TTL, billed at the social
-- price, split VK : OK as the country's audience. The rest fall back to SMS, every SMS
-- delivered and billed. Only delivered messages are billed.
with traffic as (
    select * from number_countries
),

coverage as (
    select * from country_coverage
),

prices as (
    select * from src_prices
),

by_country as (
    select
        iso,
        country,
        prefix,
        count(distinct phone) as numbers,
        sum(notifications) as notifications
    from traffic
    group by iso, country, prefix
),

routed as (
    select
        by_country.*,
        coverage.coverage,
        by_country.notifications * coverage.coverage * $delivered_share * coverage.vk_share_of_social
            as vk_delivered,
        by_country.notifications * coverage.coverage * $delivered_share
            * (1 - coverage.vk_share_of_social) as ok_delivered,
        by_country.notifications * (1 - coverage.coverage * $delivered_share) as sms_delivered,
        prices.sms_rub,
        prices.vk_rub,
        prices.ok_rub
    from by_country
    left join coverage on coverage.iso = by_country.iso
    left join prices on prices.prefix = by_country.prefix
),

costed as (
    select
        *,
        notifications * sms_rub as all_sms_rub,
        vk_delivered * vk_rub + ok_delivered * ok_rub + sms_delivered * sms_rub
            as social_first_rub
    from routed
),

final as (
    select
        iso,
        country,
        prefix,
        numbers,
        notifications,
        coverage,
        vk_delivered,
        ok_delivered,
        sms_delivered,
        sms_rub,
        vk_rub,
        ok_rub,
        all_sms_rub,
        social_first_rub,
        1 - social_first_rub / nullif(all_sms_rub, 0) as saving_share
    from costed
    order by notifications desc, iso nulls last
)

select * from final
