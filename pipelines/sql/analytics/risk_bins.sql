-- risk_bins: the $bin_width-point bin of each number's risk_score.
-- grain: one row per number (its bin and status), plus one row per bin with a null status, so
-- that status_counts lists every bin from 0 up to the scale's 1000. A bin is keyed by its first
-- point and holds [start, start + $bin_width); the last one also holds 1000.
-- refresh: per query. inputs: src_scores.
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

final as (
    select bin_start as group_order, bin_start as group_key, status
    from binned
    union all
    select bin_start as group_order, bin_start as group_key, null as status
    from bins
)

select * from final
