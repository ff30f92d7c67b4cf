-- status_by_country: the statuses and risk of the numbers of each country.
-- grain: one row per country with scored numbers (a null country for numbers outside the
-- table), most numbers first. refresh: per query.
-- inputs: number_countries over src_scores.
with scores as (
    select * from number_countries
),

final as (
    select
        iso,
        country,
        prefix,
        count(*) as numbers,
        count(*) filter (where status = 'verified') as verified,
        count(*) filter (where status = 'suspicious') as suspicious,
        count(*) filter (where status = 'owner_changed') as owner_changed,
        count(*) filter (where status = 'unknown') as unknown,
        count(*) filter (where status = 'owner_changed') / count(*) as owner_changed_share,
        avg(risk_score) as mean_risk_score
    from scores
    group by iso, country, prefix
    order by numbers desc, iso nulls last
)

select * from final
