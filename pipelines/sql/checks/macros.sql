-- Conversions shared by the check_* models (DuckDB only: checking input is the runner's job).
-- The int64 key of a strict E.164 text; null for anything else, which Python then tries to mend.
create or replace macro e164_key(text) as
    case when regexp_full_match(text, '\+[1-9][0-9]{6,14}') then cast(substr(text, 2) as bigint) end;

-- A time's text with RFC 3339's lower-case t (between a date and a time) and z (its zone, at
-- the end) in capitals: `2026-05-20t10:00:00z` is `2026-05-20T10:00:00Z`.
create or replace macro rfc3339_capitals(text) as
    regexp_replace(
        regexp_replace(text, '^(\s*[0-9]{4}-[0-9]{2}-[0-9]{2})t([0-9])', '\1T\2'),
        '([0-9])z(\s*)$',
        '\1Z\2'
    );

-- Whole seconds since the epoch, UTC, from a time as text or any timestamp type; null if unreadable.
-- Text goes through timestamptz so that an offset (+03, Z) is honoured; a typed column is cast
-- directly, which is ten times cheaper (typeof is folded when the query is bound). RFC 3339
-- allows a lower-case t between the date and the time and a lower-case z at the end, which
-- DuckDB's reader does not: only a text it cannot read is read again with those two letters,
-- and no other, in capitals (upper() would fold 'ſ' into an S and read a zone name from it).
create or replace macro epoch_micros(value) as
    epoch_us(
        case when typeof(value) = 'VARCHAR'
            then try_cast(
                coalesce(
                    try_cast(value as timestamptz),
                    try_cast(rfc3339_capitals(cast(value as varchar)) as timestamptz)
                ) as timestamp
            )
            else try_cast(value as timestamp)
        end
    );

create or replace macro epoch_seconds(value) as epoch_micros(value) // 1000000;

-- Whether a time is after `moment` (epoch seconds), given its whole `seconds` and its `value`:
-- a time within the moment's own second, 0.4 s after it say, is after it (DESIGN §4: events
-- after T are ignored), which its whole seconds alone cannot tell; only then is it read again.
create or replace macro is_after(seconds, value, moment) as
    case
        when seconds <> moment then seconds > moment
        else epoch_micros(value) > moment * 1000000
    end;

-- Whether a value is a blank text: a nullable column's empty field, which a CSV reader reads as
-- null, and a Parquet writer keeps as ''; either way the value is missing.
create or replace macro is_blank(value) as trim(cast(value as varchar)) = '';

create or replace macro is_product_name(product) as regexp_full_match(product, '[a-z0-9_.-]+');

-- Why an event's phone or time breaks the contract (DESIGN §3), in the order a person fixes them;
-- null when both are fine.
create or replace macro event_reject_reason(phone_text, phone, ts_missing, ts, run_at) as
    case
        when phone_text is null or is_blank(phone_text) then 'missing phone'
        when phone is null then 'phone is not a valid number'
        when ts_missing then 'missing ts'
        when ts is null then 'ts is not a time'
        when ts <= 0 then 'ts is not after 1970-01-01'
        when ts > run_at then 'ts is later than the run'
    end;

-- Why a product name breaks the contract; null when it is fine.
create or replace macro product_reject_reason(product) as
    case
        when product is null or product = '' then 'missing product'
        when not is_product_name(product) then 'product is not a product name'
    end;

-- Epoch seconds back to a UTC instant: a timestamp with time zone, which Parquet stores marked as
-- adjusted to UTC, so readers (pandas, Polars, Spark) see the zone the output contracts name.
create or replace macro to_utc_time(seconds) as make_timestamptz(seconds * 1000000);

-- A phone's 64-bit key back to its E.164 text (`+79234567823`), as the outputs show phones.
create or replace macro e164_text(phone_key) as '+' || cast(phone_key as varchar);
