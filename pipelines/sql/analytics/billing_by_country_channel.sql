-- billing_by_country_channel: what the delivered notifications cost, by country and channel,
-- from the billing ledger (the actual charges: only delivered notifications are billed).
-- grain: one row per country and channel with a billed delivery (a null country for numbers
-- outside the country table), the largest amount first. refresh: per query.
-- inputs: stg_billing_ledger, src_countries (data/countries.csv, bound by pipelines.analytics).
with ledger as (
    select * from stg_billing_ledger
),

countries as (
    select * from src_countries
),

final as (
    select
        countries.iso,
        countries.name as country,
        ledger.prefix,
        ledger.channel,
        ledger.currency,
        count(*) as delivered,
        sum(ledger.price) as billed
    from ledger
    left join countries on countries.prefix = ledger.prefix
    group by countries.iso, countries.name, ledger.prefix, ledger.channel, ledger.currency
    order by billed desc, countries.iso nulls last, ledger.channel
)

select * from final
