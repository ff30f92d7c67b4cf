-- checked_phones: the phone of every checked row of every kind, as the number checks read them.
-- grain: one row per checked row. refresh: a view over the checked tables.
select phone from checked_code_entries
union all
select phone from checked_sms_deliveries
union all
select phone from checked_registrations
union all
select phone from checked_number_changes
union all
select phone from checked_verifications
union all
select phone from checked_accounts
