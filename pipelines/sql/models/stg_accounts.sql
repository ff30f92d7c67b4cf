-- stg_accounts: the checked social accounts bound to numbers now.
-- grain: one row per (network, account_id, phone). refresh: full, every run.
select network, account_id, phone, last_seen_at, mobile_app
from checked_accounts
where reject_reason is null
