-- int_sms_features: SMS delivery reports per number, over all time and within the tenure.
-- grain: one row per number with a delivery report. refresh: full.
-- checks: delivered_half_periods <= delivered; first_delivered_period <= last_delivered_period.
-- A gap is a silence longer than W between two delivered SMS of the tenure, or longer than W
-- after the last delivery while SMS kept failing. Finding the silences needs the deliveries in
-- time order, and this model does not sort the largest input: it only picks the numbers that
-- may have a gap, and int_sms_gaps sorts the deliveries of those alone and decides.
-- A silence longer than W holds a whole half-period (W/2 long, counted from the epoch) with no
-- delivery, so a number whose delivered half-periods leave none out between its first and last
-- delivery has no such silence. The half-periods are counted without a distinct count: each
-- number's delivered half-periods are the set bits of 62-half-period words, one bit_or a word.
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
        deliveries.ts // (params.possession_window_s // 2) as half_period
    from deliveries
    cross join params
    left join tenures on deliveries.phone = tenures.phone
),

words as (
    -- per number and 62-half-period word; a delivered half-period sets its bit in the word
    select
        phone,
        min(ts) as first_sms_at,
        count(case when in_tenure and is_delivered then 1 end) as delivered,
        min(case when in_tenure and is_delivered then ts end) as first_delivered_at,
        max(case when in_tenure and is_delivered then ts end) as last_delivered_at,
        max(case when in_tenure then ts end) as last_attempt_at,
        bit_or(
            case when in_tenure and is_delivered then cast(1 as bigint) << (half_period % 62) end
        ) as half_period_bits
    from marked
    group by phone, half_period // 62
),

aggregated as (
    select
        phone,
        min(first_sms_at) as first_sms_at,
        cast(sum(delivered) as bigint) as delivered,
        min(first_delivered_at) as first_delivered_at,
        max(last_delivered_at) as last_delivered_at,
        max(last_attempt_at) as last_attempt_at,
        cast(coalesce(sum(bit_count(half_period_bits)), 0) as bigint) as delivered_half_periods
    from words
    group by phone
),

final as (
    select
        aggregated.*,
        -- W-periods (counted from the epoch) of the first and last delivery: deliveries in two
        -- W-periods at least are what steady delivery asks for
        first_delivered_at // params.possession_window_s as first_delivered_period,
        last_delivered_at // params.possession_window_s as last_delivered_period,
        -- a half-period left out between the first and the last delivery, or a long silence
        -- after the last one while SMS kept failing: int_sms_gaps measures the silences
        delivered_half_periods
            < last_delivered_at // (params.possession_window_s // 2)
            - first_delivered_at // (params.possession_window_s // 2) + 1
        or last_attempt_at - last_delivered_at > params.possession_window_s as may_have_gap
    from aggregated
    cross join params
)

select * from final
