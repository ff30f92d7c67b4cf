-- status_counts: how many numbers of each status fall in each group.
-- grain: one row per group_key of grouped_numbers, in group_order. refresh: per query.
-- inputs: grouped_numbers (group_order, group_key, status), made by a grouping query
-- (owner_since_bands, risk_bins): one row per number, plus one row with a null status for every
-- group to list, so that a group without numbers is counted as zero.
with grouped as (
    select * from grouped_numbers
),

final as (
    select
        group_order,
        group_key,
        count(status) as numbers,
        count(*) filter (where status = 'verified') as verified,
        count(*) filter (where status = 'suspicious') as suspicious,
        count(*) filter (where status = 'owner_changed') as owner_changed,
        count(*) filter (where status = 'unknown') as unknown
    from grouped
    group by group_order, group_key
    order by group_order
)

select * from final
