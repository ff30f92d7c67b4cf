-- publish_scores: the public scores (data/schemas/scores.yaml) from the classification model.
-- grain: one row per number, in phone order. refresh: full, every run.
-- DuckDB only: formatting the output is the runner's job; the models stay portable.
-- The reason list keeps the canonical order of ownership.verdicts.REASON_ORDER.
with classification as (
    -- already in phone order: see pipelines.publish.in_phone_order
    select * from classification_sorted
),

evidenced as (
    select
        classification.*,
        list_filter([
            {'code': 'PROFILE_MISMATCH', 'at': profile_mismatch_at, 'holds': has_profile_mismatch},
            {'code': 'NUMBER_CHANGE_REPORTED', 'at': number_change_reported_at, 'holds': has_number_change_reported},
            {'code': 'SMS_PERMANENT_FAILURES', 'at': sms_permanent_failures_at, 'holds': has_sms_permanent_failures},
            {'code': 'OWNER_DENIED', 'at': owner_denied_at, 'holds': has_owner_denied},
            {'code': 'RECENT_CODE_ENTRY', 'at': recent_code_entry_at, 'holds': has_recent_code_entry},
            {'code': 'RECENT_CONFIRMATION', 'at': recent_confirmation_at, 'holds': has_recent_confirmation},
            {'code': 'STEADY_SMS_DELIVERY', 'at': steady_sms_delivery_at, 'holds': has_steady_sms_delivery},
            {'code': 'PROFILES_MATCH', 'at': profiles_match_at, 'holds': has_profiles_match},
            {'code': 'SPARSE_CODE_ENTRIES', 'at': sparse_code_entries_at, 'holds': has_sparse_code_entries},
            {'code': 'ONLY_REGISTRATION_CODE', 'at': only_registration_code_at, 'holds': has_only_registration_code},
            {'code': 'NO_RECENT_CODE', 'at': no_recent_code_at, 'holds': has_no_recent_code},
            {'code': 'SMS_GAP', 'at': sms_gap_at, 'holds': has_sms_gap},
            {'code': 'NO_HISTORY', 'at': no_history_at, 'holds': has_no_history}
        ], lambda reason: coalesce(reason.holds, false)) as evidence
    from classification
),

final as (
    select
        '+' || cast(phone as varchar) as phone,
        status,
        cast(risk_score as smallint) as risk_score,
        list_transform(evidence, lambda reason: reason.code) as reasons,
        list_transform(evidence, lambda reason: to_utc_time(reason.at)) as reason_times,
        to_utc_time(owner_since) as owner_since,
        to_utc_time(first_seen_at) as first_seen_at,
        to_utc_time(last_code_at) as last_code_at,
        to_utc_time(last_confirmed_at) as last_confirmed_at,
        to_utc_time(as_of) as as_of
    from evidenced
)

select * from final
