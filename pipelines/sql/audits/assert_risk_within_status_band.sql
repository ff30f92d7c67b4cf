-- assert_risk_within_status_band: every risk score lies in its status's band (DESIGN §4).
-- Returns the offending rows; a clean run returns none.
select phone, status, risk_score
from classification
where not (
    (status = 'verified' and risk_score between 0 and 299)
    or (status = 'suspicious' and risk_score between 300 and 699)
    or (status = 'unknown' and risk_score = 500)
    or (status = 'owner_changed' and risk_score between 700 and 1000)
)
