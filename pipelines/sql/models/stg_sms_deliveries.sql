-- stg_sms_deliveries: the checked sms_deliveries rows that belong to this run.
-- grain: one row per valid event at or before as_of. refresh: full, every run.
-- Rows that broke the contract went to the rejects file; rows after as_of wait for a later run.
select phone, ts, status, error
from checked_sms_deliveries
where reject_reason is null and not after_as_of
