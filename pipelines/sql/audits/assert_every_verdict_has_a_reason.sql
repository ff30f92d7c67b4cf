-- assert_every_verdict_has_a_reason: a verdict is explained by its reasons, so it has one.
-- Returns the offending rows; a clean run returns none.
select phone, status
from classification
where not (
    has_profile_mismatch or has_number_change_reported or has_sms_permanent_failures
    or has_owner_denied or has_recent_code_entry or has_recent_confirmation
    or has_steady_sms_delivery or has_profiles_match or has_sparse_code_entries
    or has_only_registration_code or has_no_recent_code or has_sms_gap or has_no_history
)
