-- rejects: a kind's rejected rows as its rejects file shows them (data/schemas/rejects.yaml):
-- where each was read, why it was rejected, its phone as E.164, its raw texts, and then the
-- kind's own columns as the checks read them.
-- grain: one row per rejected input row. refresh: full, every run, once the numbers are judged.
-- $kind names the kind; `rejected_input` is its check model (check_<kind>) read again from the
-- input, with the raw texts and locations that `checked_<kind>` leaves out. CSV rows (and
-- those of Parquet files holding a column named file_row_number) are numbered across a scan:
-- scan_rows_before holds how many rows of the scan came before each file's first, so that
-- `row` counts within the file.
with checked as (
    select * from rejected_input
),

renumbered as (
    select * from renumbered_numbers
),

invalid as (
    select * from invalid_numbers
),

rows_before as (
    select * from scan_rows_before
),

lines as (
    select * from unreadable_lines
    where kind = $kind
),

judged as (
    -- check_numbers judged the numbers once every kind was checked: the rows of invalid
    -- numbers are rejects too, and a renumbered row shows the number it was counted under
    select
        checked.*,
        checked.phone in (select phone from invalid) as invalid_number,
        coalesce(renumbered.read_as, checked.phone) as counted_phone
    from checked
    left join renumbered on checked.phone = renumbered.phone
    where checked.reject_reason is not null
        or checked.phone in (select phone from invalid)
),

located as (
    select
        judged.source_file as file,
        judged.source_row - coalesce(rows_before.rows_before, 0) as row,
        cast(null as bigint) as line,
        cast(null as bigint) as byte_offset,
        case when judged.invalid_number then 'phone is not a valid number'
            else judged.reject_reason end as reject_reason,
        case when not judged.invalid_number then e164_text(judged.counted_phone) end as phone,
        judged.phone_text,
        cast(null as varchar) as line_text,
        -- the kind's own columns; after_as_of and unreadable_phone only serve the counts
        judged.* exclude (
            phone, reject_reason, phone_text, after_as_of, unreadable_phone,
            source_file, source_row, invalid_number, counted_phone
        )
    from judged
    left join rows_before on judged.source_file = rows_before.source_file
),

unreadable as (
    -- the CSV lines the reader could not split: no row, no phone, no column of the kind
    select
        file,
        cast(null as bigint) as row,
        line,
        byte_offset,
        reject_reason,
        cast(null as varchar) as phone,
        cast(null as varchar) as phone_text,
        line_text
    from lines
),

final as (
    select * from located
    union all by name
    select * from unreadable
)

select * from final
order by file, row nulls last, line
