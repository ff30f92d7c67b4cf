-- stg_billing_ledger: the billed deliveries (the store's `billing_ledger`), at most one per
-- notification, at the price for its country and channel.
-- grain: one row per billed notification. refresh: per query. Only renames.
-- inputs: src_billing_ledger, read from the store by pipelines.store_frames (price exact, to
-- four decimals; times naive UTC).
with source as (
    select * from src_billing_ledger
),

final as (
    select
        notification_id,
        client_key,
        channel,
        country as prefix,
        price,
        currency,
        delivered_at,
        month
    from source
)

select * from final
