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
        phone_fixes.problem as phone_problem,
        epoch_seconds(source.ts) as ts,
        case when epoch_seconds(source.ts) is null then cast(source.ts as varchar) end as ts_text,
        source.ts is null as ts_missing,
        lower(trim(source.method)) as method,
        lower(trim(source.result)) as result,
        nullif(trim(source.account_id), '') as account_id
    from source
    left join phone_fixes on source.phone = phone_fixes.phone_text
),

final as (
    select
        typed.*,
        case
            when phone_text is null then 'missing phone'
            when phone is null then 'phone ' || coalesce(phone_problem, 'unparseable')
            when ts_missing then 'missing ts'
            when ts is null then 'ts is not a time'
            when ts > params.run_at then 'ts is later than the run'
            when method is null then 'missing method'
            when method not in (select value from allowed_values
                                where kind = 'verifications' and name = 'method')
                then 'method is not one of the allowed values'
            when result is null then 'missing result'
            when result not in (select value from allowed_values
                                where kind = 'verifications' and name = 'result')
                then 'result is not one of the allowed values'
        end as reject_reason,
        ts > params.as_of as after_as_of
    from typed
    cross join params
)

select * from final
