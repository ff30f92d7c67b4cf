-- check_accounts: the accounts input (current state) typed, converted and checked.
-- grain: one row per input row. refresh: full, every run.
-- A non-null reject_reason breaks the contract (DESIGN §3): the row goes to the rejects file.
-- The state is as of the run, not as_of: it is never left out for being late.
with source as (
    select * from raw_accounts
),

params as (
    select * from run_params
),

typed as (
    select
        source.phone as phone_text,
        coalesce(e164_key(source.phone), phone_fixes.phone) as phone,
        lower(trim(source.network)) as network,
        nullif(trim(source.account_id), '') as account_id,
        epoch_seconds(source.last_seen_at) as last_seen_at,
        source.last_seen_at is not null and not is_blank(source.last_seen_at)
            and epoch_seconds(source.last_seen_at) is null as last_seen_invalid,
        case when epoch_seconds(source.last_seen_at) is null
            then cast(source.last_seen_at as varchar) end as last_seen_at_text,
        -- trimmed like every other text column (a CSV written with ", " between fields);
        -- a Boolean Parquet column goes through text unchanged
        try_cast(trim(cast(source.mobile_app as varchar)) as boolean) as mobile_app,
        source.mobile_app is not null and not is_blank(source.mobile_app)
            and try_cast(trim(cast(source.mobile_app as varchar)) as boolean) is null
            as mobile_app_invalid,
        case when try_cast(trim(cast(source.mobile_app as varchar)) as boolean) is null
            then cast(source.mobile_app as varchar) end as mobile_app_text,
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
        case
            when phone_text is null or is_blank(phone_text) then 'missing phone'
            when phone is null then 'phone is not a valid number'
            when network is null then 'missing network'
            when network not in (select value from allowed_values
                                 where kind = 'accounts' and name = 'network')
                then 'network is not one of the allowed values'
            when account_id is null then 'missing account_id'
            when last_seen_invalid then 'last_seen_at is not a time'
            when last_seen_at <= 0 then 'last_seen_at is not after 1970-01-01'
            when last_seen_at > params.run_at then 'last_seen_at is later than the run'
            when mobile_app_invalid then 'mobile_app is not a boolean'
        end as reject_reason,
        false as after_as_of
    from typed
    cross join params
),

final as (
    -- what the models read, then the raw texts (`*_text`) and where the row was read, which
    -- only the rejects file shows: `checked_<kind>` leaves them out (pipelines.ingest.check_kind)
    select
        phone, network, account_id, last_seen_at, mobile_app,
        reject_reason,
        after_as_of,
        -- the unreadable phone a later pass may mend (pipelines.ingest.mend_phones)
        case when reject_reason = 'phone is not a valid number' then phone_text end
            as unreadable_phone,
        phone_text,
        last_seen_at_text,
        mobile_app_text,
        source_file,
        source_row
    from checked
)

select * from final
