-- owner_since_recency: how long ago the current holders took their numbers, by status.
-- grain: one row per band, all seven, youngest first: held since within the last day, week,
-- month, quarter, year (each relative to the scores' as_of, bounds included in the younger
-- band), older, or no owner_since at all ('none', numbers without history).
-- refresh: per query. inputs: src_scores (scores.parquet).
with scores as (
    select * from src_scores
),

bands as (
    select * from (
        values
            (1, 'day'),
            (2, 'week'),
            (3, 'month'),
            (4, 'quarter'),
            (5, 'year'),
            (6, 'older'),
            (7, 'none')
    ) as band_list (band_order, band)
),

banded as (
    select
        status,
        case
            when owner_since is null then 'none'
            when owner_since >= as_of - interval 1 day then 'day'
            when owner_since >= as_of - interval 7 day then 'week'
            when owner_since >= as_of - interval 1 month then 'month'
            when owner_since >= as_of - interval 3 month then 'quarter'
            when owner_since >= as_of - interval 1 year then 'year'
            else 'older'
        end as band
    from scores
),

counted as (
    select
        band,
        count(*) as numbers,
        count(*) filter (where status = 'verified') as verified,
        count(*) filter (where status = 'suspicious') as suspicious,
        count(*) filter (where status = 'owner_changed') as owner_changed,
        count(*) filter (where status = 'unknown') as unknown
    from banded
    group by band
),

final as (
    select
        bands.band,
        coalesce(counted.numbers, 0) as numbers,
        coalesce(counted.verified, 0) as verified,
        coalesce(counted.suspicious, 0) as suspicious,
        coalesce(counted.owner_changed, 0) as owner_changed,
        coalesce(counted.unknown, 0) as unknown
    from bands
    left join counted on counted.band = bands.band
    order by bands.band_order
)

select * from final
