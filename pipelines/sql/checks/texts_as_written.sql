-- texts_as_written: the unreadable lines that are not UTF-8 take their text as their files
-- hold it (pipelines.lines_as_written reads it), in place of the reader's decoded copy.
-- grain: one row per such line. refresh: after unreadable_lines, every run.
update unreadable_lines
set line_text = texts_as_written.line_text
from texts_as_written
where
    unreadable_lines.file = texts_as_written.file
    and unreadable_lines.byte_offset = texts_as_written.byte_offset
