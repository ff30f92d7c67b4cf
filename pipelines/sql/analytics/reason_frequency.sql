-- reason_frequency: how often each reason code explains a verdict.
-- grain: one row per reason code given to at least one number, most frequent first.
-- refresh: per query. inputs: src_scores (scores.parquet).
-- share is of all scored numbers; a number has several reasons, so shares add up past 1.
with scores as (
    select * from src_scores
),

given as (
    select phone, unnest(reasons) as reason from scores
),

total as (
    select count(*) as all_numbers from scores
),

counted as (
    select reason, count(distinct phone) as numbers
    from given
    group by reason
),

final as (
    select
        counted.reason,
        counted.numbers,
        counted.numbers / total.all_numbers as share
    from counted
    cross join total
    order by counted.numbers desc, counted.reason
)

select * from final
