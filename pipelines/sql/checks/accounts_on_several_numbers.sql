-- accounts_on_several_numbers: the social accounts the accounts input binds to more than one
-- number. The input is the networks' current state, where an account has one number; an account
-- listed on two is a feed's fault (a stale row beside the new one, say), and each of its numbers
-- counts it as its own bound account, with its holder and last visit.
-- grain: one row per (network, account_id) so listed, with the lowest and highest of its
-- numbers. refresh: full, every run, after the checks and the phone mending.
with accounts as (
    select * from checked_accounts
    where reject_reason is null
),

final as (
    select
        network,
        account_id,
        min(phone) as first_phone,
        max(phone) as last_phone
    from accounts
    group by network, account_id
    having min(phone) <> max(phone)
)

select * from final
