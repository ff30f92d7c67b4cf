-- doubtful_number_blocks: the blocks of a million numbers, named by the input, that do not lie
-- wholly inside one range of valid numbers (number_ranges).
-- grain: one row per block. refresh: full, every run, after the checks and the phone mending.
-- A number's validity is a lookup in ranges (pipelines.number_ranges). Grouping every row into
-- a few thousand blocks is a fifth of the cost of a distinct over the numbers. Where valid
-- ranges fill whole blocks, as they do for most mobile numbers, a history of valid numbers ends
-- here; the rows of the other blocks are read again, number by number (doubtful_numbers).
with phones as (
    select * from checked_phones
),

ranges as (
    select * from number_ranges
),

blocks as (
    select distinct phone // 1000000 as block
    from phones
    where phone is not null
),

final as (
    select blocks.block
    from blocks
    asof left join ranges on blocks.block * 1000000 >= ranges.low
    where ranges.low is null
        or blocks.block * 1000000 + 999999 > ranges.high
        or ranges.verdict <> 'valid'
)

select * from final
