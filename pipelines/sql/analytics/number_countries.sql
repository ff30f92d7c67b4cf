-- number_countries: the country of each number, by the longest E.164 prefix of the country table.
-- grain: one row per row of src_numbers (any relation with an E.164 `phone`), its columns kept.
-- refresh: per query. inputs: src_numbers, src_countries (data/countries.csv, bound by
-- pipelines.analytics). checks: a number outside the table keeps its row with a null country;
-- nothing is dropped.
with numbers as (
    select * from src_numbers
),

countries as (
    select * from src_countries
),

phones as (
    select distinct phone from numbers
),

longest_match as (
    select
        phones.phone,
        countries.iso,
        countries.name as country,
        countries.prefix
    from phones
    inner join countries on starts_with(ltrim(phones.phone, '+'), countries.prefix)
    qualify row_number() over (partition by phones.phone order by length(countries.prefix) desc) = 1
),

final as (
    select
        numbers.*,
        longest_match.iso,
        longest_match.country,
        longest_match.prefix
    from numbers
    left join longest_match on longest_match.phone = numbers.phone
)

select * from final
