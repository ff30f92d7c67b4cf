-- country_coverage: each country's social audience (DESIGN §11) and the share of its numbers a
-- social-first send reaches.
-- grain: one row per country of the table, largest audience first. refresh: per query.
-- inputs: src_countries (data/countries.csv with ownership.countries' vk_share_of_social),
-- src_coverage (the coverage assumed per country, bound by pipelines.analytics).
-- The brief gives monthly users, not subscribers, so coverage is an assumption passed in; the
-- audience bounds the union of the two networks: at least the larger, at most their sum (null
-- where the brief lacks a figure).
with countries as (
    select * from src_countries
),

coverage as (
    select * from src_coverage
),

final as (
    select
        countries.iso,
        countries.name as country,
        countries.prefix,
        countries.vk_monthly_users_m,
        countries.ok_monthly_users_m,
        greatest(countries.vk_monthly_users_m, countries.ok_monthly_users_m)
            as social_users_at_least_m,
        countries.vk_monthly_users_m + countries.ok_monthly_users_m as social_users_at_most_m,
        countries.vk_share_of_social,
        coverage.coverage
    from countries
    left join coverage on coverage.iso = countries.iso
    order by social_users_at_least_m desc, countries.iso
)

select * from final
