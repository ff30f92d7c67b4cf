-- assert_owner_since_where_a_holder_is_known: owner_since is missing exactly where no holder is
-- known (DESIGN §4): a number without history, or one that changed hands with no holder shown
-- on it since. A verified or suspicious number is judged within a holder's tenure, which starts
-- somewhere; an unknown one has no holder to date.
-- Returns the offending rows; a clean run returns none.
select phone, status, owner_since
from classification
where (owner_since is null and status in ('verified', 'suspicious'))
    or (owner_since is not null and status = 'unknown')
