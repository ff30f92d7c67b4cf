-- risk_histogram: how many numbers of each status fall in each band of risk_score.
-- grain: one row per bin of $bin_width points from 0 up to the scale's 1000, all of them, the
-- last bin closed at 1000. refresh: per query. inputs: src_scores (scores.parquet).
with scores as (
    select * from src_scores
),

bins as (
    select unnest(range(0, 1000, cast($bin_width as bigint))) as bin_start
),

binned as (
    select
        status,
        least(risk_score // $bin_width, 999 // $bin_width) * $bin_width as bin_start
    from scores
),

counted as (
    select
        bin_start,
        count(*) as numbers,
        count(*) filter (where status = 'verified') as verified,
        count(*) filter (where status = 'suspicious') as suspicious,
        count(*) filter (where status = 'owner_changed') as owner_changed,
        count(*) filter (where status = 'unknown') as unknown
    from binned
    group by bin_start
),

final as (
    select
        bins.bin_start,
        least(bins.bin_start + $bin_width, 1000) as bin_end,
        coalesce(counted.numbers, 0) as numbers,
        coalesce(counted.verified, 0) as verified,
        coalesce(counted.suspicious, 0) as suspicious,
        coalesce(counted.owner_changed, 0) as owner_changed,
        coalesce(counted.unknown, 0) as unknown
    from bins
    left join counted on counted.bin_start = bins.bin_start
    order by bins.bin_start
)

select * from final
