-- status_summary: how many numbers have each status, their share and their risk scores.
-- grain: one row per status of the contract ($statuses, in that order), zero where none has it.
-- refresh: per query. inputs: src_scores (scores.parquet).
with scores as (
    select * from src_scores
),

statuses as (
    select unnest(cast($statuses as varchar[])) as status
),

counted as (
    select
        status,
        count(*) as numbers,
        avg(risk_score) as mean_risk_score,
        min(risk_score) as min_risk_score,
        max(risk_score) as max_risk_score
    from scores
    group by status
),

total as (
    select count(*) as all_numbers from scores
),

final as (
    select
        statuses.status,
        coalesce(counted.numbers, 0) as numbers,
        coalesce(counted.numbers, 0) / nullif(total.all_numbers, 0) as share,
        counted.mean_risk_score,
        counted.min_risk_score,
        counted.max_risk_score
    from statuses
    cross join total
    left join counted on counted.status = statuses.status
    order by list_position(cast($statuses as varchar[]), statuses.status)
)

select * from final
