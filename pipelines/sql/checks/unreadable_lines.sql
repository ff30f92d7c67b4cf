-- unreadable_lines: the CSV lines of the input that the reader could not read as a row (a wrong
-- field count, bytes that are not UTF-8, a line over the size limit, a quote left open), one
-- row a line, as rejected rows of their kind.
-- grain: one row per unreadable line. refresh: full, every run, after the checks.
-- DuckDB keeps such lines aside (read_csv's store_rejects) with one error per broken column,
-- once per scan of the file; a line is counted once, with the first error the reader met.
with errors as (
    select * from csv_line_errors
),

scans as (
    select * from csv_line_scans
),

files as (
    select * from input_files
),

located as (
    select
        files.kind,
        files.path as file,
        errors.line,
        errors.line_byte_position,
        -- some errors (a line over the size limit) name no column: they come first
        coalesce(errors.column_idx, 0) as column_idx,
        errors.error_type,
        errors.csv_line
    from errors
    inner join scans on errors.scan_id = scans.scan_id and errors.file_id = scans.file_id
    inner join files on scans.file_path = files.path
),

final as (
    select
        kind,
        file,
        -- the reader's count, in which a quoted field's line breaks do not count; the byte
        -- offset locates the line exactly
        line,
        -- from the file's start, 0 first: the reader counts from 1, and a CRLF file's line
        -- comes with the LF before it
        min(
            line_byte_position - 1 + strlen(csv_line)
            - strlen(ltrim(csv_line, chr(13) || chr(10)))
        ) as byte_offset,
        'unreadable CSV line: ' || lower(arg_min(error_type, column_idx)) as reject_reason,
        -- without the line ends around it (a CRLF file's comes first)
        trim(arg_min(csv_line, column_idx), chr(13) || chr(10)) as line_text,
        -- text after a closing quote: the quote was left open, and the reader took the lines
        -- up to the next quote, or to the end, for one field
        bool_or(error_type = 'UNQUOTED VALUE') as quote_left_open
    from located
    group by kind, file, line
)

select * from final
