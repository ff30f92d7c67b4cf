-- check_sms_deliveries: the sms_deliveries input typed, converted and checked.
-- grain: one row per input row. refresh: full, every run.
-- A non-null reject_reason breaks the contract (DESIGN §3): the row goes to the rejects file.
with source as (
    select * from raw_sms_deliveries
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
        lower(trim(source.product)) as product,
        source.product as product_text,
        lower(trim(source.status)) as status,
        nullif(lower(trim(source.error)), '') as error,
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
            product_reject_reason(product),
            case
                when status is null then 'missing status'
                when status not in (select value from allowed_values
                                    where kind = 'sms_deliveries' and name = 'status')
                    then 'status is not one of the allowed values'
                -- an unknown error is said as such, whatever the status
                when error not in (select value from allowed_values
                                   where kind = 'sms_deliveries' and name = 'error')
                    then 'error is not one of the allowed values'
                when status = 'delivered' and error is not null
                    then 'a delivered SMS has no error'
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
        phone, ts, status, error,
        reject_reason,
        after_as_of,
        -- the unreadable phone a later pass may mend (pipelines.ingest.mend_phones)
        case when reject_reason = 'phone is not a valid number' then phone_text end
            as unreadable_phone,
        phone_text,
        ts_text,
        product_text,
        source_file,
        source_row
    from checked
)

select * from final
