-- check_verifications: the verifications input typed, converted and checked.
-- grain: one row per input row. refresh: full, every run.
-- A non-null reject_reason breaks the contract (DESIGN §3): the row goes to the rejects file.
with source as (
    select * from raw_verifications
),

params as (
    select * from run_params
),

typed as (
    select
        source.phone as phone_text,
        coalesce(e164_key(source.phone), phone_fixes.phone) as phone,
        epoch_seconds(source.ts) as ts,
        source.ts as ts_value,
        case when epoch_seconds(source.ts) is null then cast(source.ts as varchar) end as ts_text,
        source.ts is null as ts_missing,
        lower(trim(source.method)) as method,
        lower(trim(source.result)) as result,
        nullif(trim(source.account_id), '') as account_id,
        -- where the row was read: only the rejects file shows it
        source.source_file,
        source.source_row
    from source
    -- only texts that are not strict E.164 can have a fix; saying so spares the join
    left join phone_fixes
        on e164_key(source.phone) is null and source.phone = phone_fixes.phone_text
),

checked as (
    select
        typed.*,
        coalesce(
            event_reject_reason(phone_text, phone, ts_missing, ts, params.run_at),
            case
                when method is null then 'missing method'
                when method not in (select value from allowed_values
                                    where kind = 'verifications' and name = 'method')
                    then 'method is not one of the allowed values'
                when result is null then 'missing result'
                when result not in (select value from allowed_values
                                    where kind = 'verifications' and name = 'result')
                    then 'result is not one of the allowed values'
            end
        ) as reject_reason,
        is_after(ts, ts_value, params.as_of) as after_as_of
    from typed
    cross join params
),

final as (
    -- what the models read, then the raw texts (`*_text`) and where the row was read, which
    -- only the rejects file shows: `checked_<kind>` leaves them out (pipelines.ingest.check_kind)
    select
        phone, ts, method, result, account_id,
        reject_reason,
        after_as_of,
        -- the unreadable phone a later pass may mend (pipelines.ingest.mend_phones)
        case when reject_reason = 'phone is not a valid number' then phone_text end
            as unreadable_phone,
        phone_text,
        ts_text,
        source_file,
        source_row
    from checked
)

select * from final
