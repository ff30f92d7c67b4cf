-- int_sms_features: SMS delivery reports per number, over all time and within the tenure.
-- grain: one row per number with a delivery report. refresh: full.
-- checks: longest_gap_seconds >= 0.
-- SMS reach the holder "at least once every W" (DESIGN §4) unless two delivered SMS of the
-- tenure lie more than W apart, or SMS kept failing for more than W after the last delivered
-- one. sms_gap_at is the last delivery before the longest silence: the last sign of the holder.
with deliveries as (
    select * from stg_sms_deliveries
),

tenures as (
    select * from int_tenures
),

params as (
    select * from run_params
),

marked as (
    select
        deliveries.phone,
        deliveries.ts,
        deliveries.status = 'delivered'
        and (tenures.tenure_start is null or deliveries.ts >= tenures.tenure_start)
            as is_tenure_delivery,
        tenures.tenure_start is null or deliveries.ts >= tenures.tenure_start as in_tenure
    from deliveries
    left join tenures on deliveries.phone = tenures.phone
),

with_previous as (
    select
        marked.*,
        -- the delivery before this one; rows tied on ts give a gap of 0, whatever their order
        max(case when is_tenure_delivery then ts end) over (
            partition by phone order by ts rows between unbounded preceding and 1 preceding
        ) as previous_delivery_at
    from marked
),

aggregated as (
    select
        phone,
        min(ts) as first_sms_at,
        count(case when is_tenure_delivery then 1 end) as delivered,
        min(case when is_tenure_delivery then ts end) as first_delivered_at,
        max(case when is_tenure_delivery then ts end) as last_delivered_at,
        max(case when in_tenure then ts end) as last_attempt_at,
        -- the longest gap and where it starts, in one integer so that max() keeps them paired:
        -- gap seconds times 10^10 plus the start (epoch seconds stay below 10^10 until 2286)
        max(
            case when is_tenure_delivery and previous_delivery_at is not null
                then (ts - previous_delivery_at) * 10000000000 + previous_delivery_at
            end
        ) as longest_gap_key
    from with_previous
    group by phone
),

gaps as (
    select
        aggregated.*,
        coalesce(longest_gap_key // 10000000000, 0) as inner_gap_seconds,
        longest_gap_key % 10000000000 as inner_gap_from,
        -- SMS still tried after the last delivery: a silence that has not ended
        coalesce(last_attempt_at - last_delivered_at, 0) as trailing_gap_seconds
    from aggregated
),

final as (
    select
        gaps.phone,
        gaps.first_sms_at,
        gaps.delivered,
        gaps.first_delivered_at,
        gaps.last_delivered_at,
        gaps.last_attempt_at,
        greatest(gaps.inner_gap_seconds, gaps.trailing_gap_seconds) as longest_gap_seconds,
        greatest(gaps.inner_gap_seconds, gaps.trailing_gap_seconds) > params.possession_window_s
            as has_gap,
        case
            when gaps.trailing_gap_seconds > gaps.inner_gap_seconds then gaps.last_delivered_at
            else gaps.inner_gap_from
        end as sms_gap_at
    from gaps
    cross join params
)

select * from final
