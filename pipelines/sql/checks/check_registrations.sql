-- check_registrations: the registrations input typed, converted and checked.
-- grain: one row per input row. refresh: full, every run.
-- A non-null reject_reason breaks the contract (DESIGN §3): the row goes to the rejects file.
with source as (
    select * from raw_registrations
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
        nullif(trim(source.account_id), '') as account_id,
        nullif(trim(source.name_key), '') as name_key,
        try_cast(source.birth_date as date) as birth_date,
        source.birth_date is not null and not is_blank(source.birth_date)
            and try_cast(source.birth_date as date) is null as birth_date_invalid,
        case when try_cast(source.birth_date as date) is null
            then cast(source.birth_date as varchar) end as birth_date_text,
        nullif(lower(trim(source.gender)), '') as gender,
        source.region as region_text,
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
                when account_id is null then 'missing account_id'
                when birth_date_invalid then 'birth_date is not a date'
                -- nobody registering now was born before 1900, or after the registration
                when birth_date < date '1900-01-01'
                    or birth_date > cast(make_timestamp(ts * 1000000) as date)
                    then 'birth_date is not a plausible birth date'
                when gender not in (select value from allowed_values
                                    where kind = 'registrations' and name = 'gender')
                    then 'gender is not one of the allowed values'
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
        phone, ts, product, account_id, name_key, birth_date, gender,
        reject_reason,
        after_as_of,
        -- the unreadable phone a later pass may mend (pipelines.ingest.mend_phones)
        case when reject_reason = 'phone is not a valid number' then phone_text end
            as unreadable_phone,
        phone_text,
        ts_text,
        birth_date_text,
        region_text,
        source_file,
        source_row
    from checked
)

select * from final
