-- int_other_features: number changes and re-verifications per number.
-- grain: one row per number with a number change or a verification. refresh: full.
with number_changes as (
    select * from stg_number_changes
),

verifications as (
    select * from stg_verifications
),

tenures as (
    select * from int_tenures
),

events as (
    select phone, ts, false as is_confirmation
    from number_changes

    union all

    select phone, ts, result = 'confirmed' as is_confirmation
    from verifications
),

final as (
    select
        events.phone,
        min(events.ts) as first_event_at,
        min(case when is_confirmation
            and (tenures.tenure_start is null or events.ts >= tenures.tenure_start)
            then events.ts end) as first_tenure_confirmed_at,
        max(case when is_confirmation
            and (tenures.tenure_start is null or events.ts >= tenures.tenure_start)
            then events.ts end) as last_confirmed_at
    from events
    left join tenures on events.phone = tenures.phone
    group by events.phone
)

select * from final
