-- uniform_traffic: the same number of notifications for every scored number.
-- grain: one row per number of src_scores. refresh: per query.
-- The traffic the cost comparison takes when the analyst has no notification log to hand.
with scores as (
    select * from src_scores
),

final as (
    select
        phone,
        cast($notifications_per_number as double) as notifications
    from scores
)

select * from final
