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
        phone_fixes.phone_text is not null as phone_mended,
        epoch_seconds(source.ts) as ts,
        case when epoch_seconds(source.ts) is null then cast(source.ts as varchar) end as ts_text,
        source.ts is null as ts_missing,
        lower(trim(source.product)) as product,
        nullif(trim(source.account_id), '') as account_id,
        nullif(trim(source.name_key), '') as name_key,
        try_cast(source.birth_date as date) as birth_date,
        source.birth_date is not null and try_cast(source.birth_date as date) is null
            as birth_date_invalid,
        nullif(lower(trim(source.gender)), '') as gender,
        nullif(trim(source.region), '') as region
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
                when gender not in (select value from allowed_values
                                    where kind = 'registrations' and name = 'gender')
                    then 'gender is not one of the allowed values'
            end
        ) as reject_reason,
        ts > params.as_of as after_as_of
    from typed
    cross join params
),

final as (
    -- only what the models read; the raw texts, and the region no model reads, are kept
    -- where someone will want to see them
    select
        phone, ts, product, account_id, name_key, birth_date, gender,
        case when reject_reason is not null then region end as region,
        reject_reason,
        after_as_of,
        case when reject_reason is not null or phone_mended then phone_text end as phone_text,
        case when reject_reason is not null then ts_text end as ts_text
    from checked
)

select * from final
