-- owner_since_bands: how long before the scores' as_of each holder took the number.
-- grain: one row per number (its band and status), plus one row per band with a null status, so
-- that status_counts lists all seven bands. refresh: per query. inputs: src_scores.
-- Bands, youngest first: owner_since within the last day, week, month, quarter, year (each
-- relative to as_of, the bound included in the younger band), older, or no owner_since at all
-- ('none': numbers without history, and owner_changed numbers no holder has shown on since the
-- change, such as a number out of service).
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

final as (
    select bands.band_order as group_order, bands.band as group_key, banded.status
    from banded
    inner join bands on bands.band = banded.band
    union all
    select band_order as group_order, band as group_key, null as status
    from bands
)

select * from final
