-- run_params: the one-row relation every model reads its thresholds from.
-- grain: one row. refresh: every run, bound from pipelines.run_params.run_params_row.
-- Times are whole seconds since the epoch (UTC); windows are seconds.
create table run_params as
select
    cast($as_of as bigint) as as_of,
    cast($run_at as bigint) as run_at,
    cast($possession_window_s as bigint) as possession_window_s,
    cast($freshness_s as bigint) as freshness_s,
    cast($activity_s as bigint) as activity_s,
    cast($permanent_failures_min as bigint) as permanent_failures_min,
    cast($profile_mismatch_min_fields as bigint) as profile_mismatch_min_fields,
    cast($registration_code_grace_s as bigint) as registration_code_grace_s
