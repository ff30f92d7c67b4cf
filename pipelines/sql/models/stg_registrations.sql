-- stg_registrations: the checked registrations rows that belong to this run.
-- grain: one row per valid event at or before as_of. refresh: full, every run.
-- Rows that broke the contract went to the rejects file; rows after as_of wait for a later run.
select phone, ts, product, account_id, name_key, birth_date, gender
from checked_registrations
where reject_reason is null and not after_as_of
