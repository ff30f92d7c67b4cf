-- publish_scores: the public scores (data/schemas/scores.yaml) from the classification model.
-- grain: one row per number, in phone order. refresh: full, every run.
-- DuckDB only: formatting the output is the runner's job; the models stay portable.
-- The reason list keeps the canonical order of ownership.verdicts.REASON_ORDER.
with classification as (
    -- stored in phone order: see pipelines.duckdb_engine.create_in_phone_order
    select * from classification
),

evidenced as (
    -- the reasons that hold, in order, each with the time of its event
    select
        classification.*,
        [
            coalesce(has_profile_mismatch, false),
            coalesce(has_number_change_reported, false),
            coalesce(has_sms_permanent_failures, false),
            coalesce(has_owner_denied, false),
            coalesce(has_recent_code_entry, false),
            coalesce(has_recent_confirmation, false),
            coalesce(has_steady_sms_delivery, false),
            coalesce(has_profiles_match, false),
            coalesce(has_sparse_code_entries, false),
            coalesce(has_only_registration_code, false),
            coalesce(has_no_recent_code, false),
            coalesce(has_sms_gap, false),
            coalesce(has_no_history, false)
        ] as holds,
        list_where([
            'PROFILE_MISMATCH',
            'NUMBER_CHANGE_REPORTED',
            'SMS_PERMANENT_FAILURES',
            'OWNER_DENIED',
            'RECENT_CODE_ENTRY',
            'RECENT_CONFIRMATION',
            'STEADY_SMS_DELIVERY',
            'PROFILES_MATCH',
            'SPARSE_CODE_ENTRIES',
            'ONLY_REGISTRATION_CODE',
            'NO_RECENT_CODE',
            'SMS_GAP',
            'NO_HISTORY'
        ], holds) as reasons,
        list_where([
            profile_mismatch_at,
            number_change_reported_at,
            sms_permanent_failures_at,
            owner_denied_at,
            recent_code_entry_at,
            recent_confirmation_at,
            steady_sms_delivery_at,
            profiles_match_at,
            sparse_code_entries_at,
            only_registration_code_at,
            no_recent_code_at,
            sms_gap_at,
            no_history_at
        ], holds) as reason_seconds
    from classification
),

final as (
    select
        '+' || cast(phone as varchar) as phone,
        status,
        cast(risk_score as smallint) as risk_score,
        reasons,
        list_transform(reason_seconds, lambda seconds: to_utc_time(seconds)) as reason_times,
        to_utc_time(owner_since) as owner_since,
        to_utc_time(first_seen_at) as first_seen_at,
        to_utc_time(last_code_at) as last_code_at,
        to_utc_time(last_confirmed_at) as last_confirmed_at,
        to_utc_time(as_of) as as_of
    from evidenced
)

select * from final
