-- stg_verifications: the checked verifications rows that belong to this run.
-- grain: one row per valid event at or before as_of. refresh: full, every run.
-- Rows that broke the contract went to the rejects file; rows after as_of wait for a later run.
select phone, ts, method, result, account_id
from checked_verifications
where reject_reason is null and not after_as_of
