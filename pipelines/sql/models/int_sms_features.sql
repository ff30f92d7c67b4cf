-- int_sms_features: SMS delivery reports per number, over all time and within the tenure.
-- grain: one row per number with a delivery report. refresh: full.
-- checks: delivered_periods <= delivered.
-- A gap is a whole W-long period (counted from the epoch) between two delivered SMS with no
-- delivery in it, or a silence longer than W after the last delivery while SMS kept failing.
-- Counting periods needs no sort of the largest input, nor a distinct count: each number's
-- delivered periods are the set bits of 63-period words, one bit_or per word. int_sms_gaps
-- then finds the gap itself for the numbers that have one.
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
        deliveries.status = 'delivered' as is_delivered,
        tenures.tenure_start is null or deliveries.ts >= tenures.tenure_start as in_tenure,
        deliveries.ts // params.possession_window_s as period
    from deliveries
    cross join params
    left join tenures on deliveries.phone = tenures.phone
),

words as (
    -- per number and 63-period word; a delivered period sets its bit in the word
    select
        phone,
        min(ts) as first_sms_at,
        count(case when in_tenure and is_delivered then 1 end) as delivered,
        min(case when in_tenure and is_delivered then ts end) as first_delivered_at,
        max(case when in_tenure and is_delivered then ts end) as last_delivered_at,
        max(case when in_tenure then ts end) as last_attempt_at,
        bit_or(case when in_tenure and is_delivered then cast(1 as bigint) << (period % 63) end)
            as period_bits
    from marked
    group by phone, period // 63
),

aggregated as (
    select
        phone,
        min(first_sms_at) as first_sms_at,
        cast(sum(delivered) as bigint) as delivered,
        min(first_delivered_at) as first_delivered_at,
        max(last_delivered_at) as last_delivered_at,
        max(last_attempt_at) as last_attempt_at,
        cast(coalesce(sum(bit_count(period_bits)), 0) as bigint) as delivered_periods
    from words
    group by phone
),

final as (
    select
        aggregated.*,
        -- a period is a floor division of the time, so the first and last are those of the times
        first_delivered_at // params.possession_window_s as first_delivered_period,
        last_delivered_at // params.possession_window_s as last_delivered_period,
        delivered_periods
            < last_delivered_at // params.possession_window_s
            - first_delivered_at // params.possession_window_s + 1
        or last_attempt_at - last_delivered_at > params.possession_window_s as has_gap
    from aggregated
    cross join params
)

select * from final
