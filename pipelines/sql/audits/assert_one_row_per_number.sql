-- assert_one_row_per_number: classification has exactly one row per phone.
-- Returns the offending rows; a clean run returns none.
select phone, count(*) as rows_for_number
from classification
group by phone
having count(*) > 1
