-- int_sms_gaps: the longest silence in SMS delivery of each number that has a gap.
-- grain: one row per number with an SMS gap. refresh: full.
-- checks: gap_seconds > possession_window_s.
-- A gap is a silence longer than W between two delivered SMS of the tenure, or longer than W
-- after the last delivery while SMS kept failing. Only the numbers int_sms_features found may
-- have one are sorted; the longest silence of each decides whether it is a gap.
-- sms_gap_at is the last delivery before the silence: the last sign of the holder.
with deliveries as (
    select * from stg_sms_deliveries
),

features as (
    select * from int_sms_features
),

tenures as (
    select * from int_tenures
),

params as (
    select * from run_params
),

candidates as (
    select phone, last_delivered_at, last_attempt_at
    from features
    where may_have_gap
),

delivered as (
    select deliveries.phone, deliveries.ts
    from deliveries
    inner join candidates on deliveries.phone = candidates.phone
    left join tenures on deliveries.phone = tenures.phone
    where deliveries.status = 'delivered'
        and (tenures.tenure_start is null or deliveries.ts >= tenures.tenure_start)
),

with_previous as (
    select phone, ts, lag(ts) over (partition by phone order by ts) as previous_ts
    from delivered
),

gaps as (
    select phone, previous_ts as gap_from, ts - previous_ts as gap_seconds
    from with_previous
    where previous_ts is not null

    union all

    -- the silence after the last delivery, while SMS kept failing
    select phone, last_delivered_at as gap_from, last_attempt_at - last_delivered_at as gap_seconds
    from candidates
),

longest as (
    -- the longest gap, the latest of equals, by a plain max instead of a sort: gap_from is
    -- below 2^32 (the year 2106) and gap_seconds below 2^31, so the one number
    -- gap_seconds * 2^32 + gap_from fits a bigint and orders them as (gap_seconds, gap_from)
    select phone, max(gap_seconds * 4294967296 + gap_from) as gap_key
    from gaps
    group by phone
),

measured as (
    select
        phone,
        gap_key % 4294967296 as sms_gap_at,
        gap_key // 4294967296 as gap_seconds
    from longest
),

final as (
    select measured.*
    from measured
    cross join params
    where measured.gap_seconds > params.possession_window_s
)

select * from final
