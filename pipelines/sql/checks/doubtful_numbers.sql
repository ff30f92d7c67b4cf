-- doubtful_numbers: the numbers of strict E.164 texts in the doubtful blocks that the ranges do
-- not call valid: numbers no operator could issue, numbers phonenumbers reads as another one
-- (a national prefix written in), and numbers of 'ask' ranges, which only phonenumbers can judge.
-- grain: one row per number. refresh: full, every run, after doubtful_number_blocks.
-- The numbers mended texts were read as are left out: phonenumbers made them, and reads them
-- the same way again.
with phones as (
    select * from checked_phones
),

blocks as (
    select * from doubtful_number_blocks
),

ranges as (
    select * from number_ranges
),

mended as (
    select * from phone_fixes
),

numbers as (
    select distinct phone
    from phones
    where phone // 1000000 in (select block from blocks)
        and phone not in (select phone from mended)
),

final as (
    select numbers.phone
    from numbers
    asof left join ranges on numbers.phone >= ranges.low
    where ranges.low is null
        or numbers.phone > ranges.high
        or ranges.verdict <> 'valid'
)

select * from final
