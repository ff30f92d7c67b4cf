-- assert_times_not_after_as_of: nothing the verdict stands on happened after as_of.
-- Returns the offending rows; a clean run returns none.
select phone, owner_since, first_seen_at, last_code_at, last_confirmed_at, as_of
from classification
where owner_since > as_of
    or first_seen_at > as_of
    or last_code_at > as_of
    or last_confirmed_at > as_of
    or owner_since < first_seen_at
