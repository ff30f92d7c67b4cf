-- stg_code_entries: the checked code_entries rows that belong to this run.
-- grain: one row per valid event at or before as_of. refresh: full, every run.
-- Rows that broke the contract went to the rejects file; rows after as_of wait for a later run.
select phone, ts, product, account_id
from checked_code_entries
where reject_reason is null and not after_as_of
