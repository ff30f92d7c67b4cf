-- doubtful_numbers: the numbers of the doubtful blocks that are not valid, or that only
-- phonenumbers can judge (verdict 'ask').
-- grain: one row per number. refresh: full, every run, after doubtful_number_blocks.
with phones as (
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
),

blocks as (
    select * from doubtful_number_blocks
),

ranges as (
    select * from number_ranges
),

numbers as (
    select distinct phone
    from phones
    where phone // 1000000 in (select block from blocks)
),

final as (
    select
        numbers.phone,
        case
            when ranges.low is null or numbers.phone > ranges.high then 'invalid'
            else ranges.verdict
        end as verdict
    from numbers
    asof left join ranges on numbers.phone >= ranges.low
)

select * from final
where verdict <> 'valid'
