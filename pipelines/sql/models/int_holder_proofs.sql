-- int_holder_proofs: how recently the holders of the number's bound accounts proved possession.
-- grain: one row per number with change evidence. refresh: full.
-- checks: phone is unique.
--
-- Each social account bound to the number now proves its holder's possession by a code it
-- entered in its network, by its own registration (binding) on the number, or by a confirmed
-- re-verification. A number is only as safe as its least proven bound account: last_proof_at is
-- the oldest of the accounts' latest proofs, and null when one of them has none at all. A
-- number with no bound account counts any VK or OK code and any confirmation instead.
-- newest_account_since is when the last of the bound accounts first proved possession: change
-- evidence older than that was answered by an account that appeared after it (a new holder),
-- evidence younger than that by accounts that were there all along (the same holder).
-- Only numbers with change evidence need this, so every input is cut to them first.
with codes as (
    select * from stg_code_entries
),

registrations as (
    select * from stg_registrations
),

accounts as (
    select * from stg_accounts
),

verifications as (
    select * from stg_verifications
),

evidence as (
    select * from int_change_evidence
),

numbers_in_question as (
    select phone
    from evidence
    group by phone
),

bound_accounts as (
    select accounts.phone, accounts.network, accounts.account_id
    from accounts
    inner join numbers_in_question on accounts.phone = numbers_in_question.phone
    group by accounts.phone, accounts.network, accounts.account_id
),

social_codes as (
    select
        codes.phone,
        codes.product as network,
        codes.account_id,
        min(codes.ts) as first_at,
        max(codes.ts) as last_at
    from codes
    inner join numbers_in_question on codes.phone = numbers_in_question.phone
    where codes.product in ('vk', 'ok')
    group by codes.phone, codes.product, codes.account_id
),

social_registrations as (
    select
        registrations.phone,
        registrations.product as network,
        registrations.account_id,
        min(registrations.ts) as first_at,
        max(registrations.ts) as last_at
    from registrations
    inner join numbers_in_question on registrations.phone = numbers_in_question.phone
    where registrations.product in ('vk', 'ok')
    group by registrations.phone, registrations.product, registrations.account_id
),

confirmations as (
    -- a confirmation names the account that was asked; one that names none speaks for all
    select phone, account_id, max(ts) as last_at
    from verifications
    where result = 'confirmed'
    group by phone, account_id
),

account_proofs as (
    select
        bound_accounts.phone,
        least(social_codes.first_at, social_registrations.first_at) as first_proof_at,
        greatest(
            social_codes.last_at,
            social_registrations.last_at,
            confirmed_account.last_at,
            confirmed_any.last_at
        ) as last_proof_at
    from bound_accounts
    left join social_codes
        on bound_accounts.phone = social_codes.phone
        and bound_accounts.network = social_codes.network
        and bound_accounts.account_id = social_codes.account_id
    left join social_registrations
        on bound_accounts.phone = social_registrations.phone
        and bound_accounts.network = social_registrations.network
        and bound_accounts.account_id = social_registrations.account_id
    left join confirmations as confirmed_account
        on bound_accounts.phone = confirmed_account.phone
        and bound_accounts.account_id = confirmed_account.account_id
    left join confirmations as confirmed_any
        on bound_accounts.phone = confirmed_any.phone
        and confirmed_any.account_id is null
),

bound_numbers as (
    select
        phone,
        -- the least proven account decides; one never proven makes the whole number unproven
        case when count(*) = count(last_proof_at) then min(last_proof_at) end as last_proof_at,
        max(first_proof_at) as newest_account_since
    from account_proofs
    group by phone
),

unbound_numbers as (
    select numbers_in_question.phone
    from numbers_in_question
    left join bound_numbers on numbers_in_question.phone = bound_numbers.phone
    where bound_numbers.phone is null
),

unbound_proofs as (
    select social_codes.phone, social_codes.last_at
    from social_codes
    inner join unbound_numbers on social_codes.phone = unbound_numbers.phone

    union all

    select confirmations.phone, confirmations.last_at
    from confirmations
    inner join unbound_numbers on confirmations.phone = unbound_numbers.phone
),

final as (
    select phone, last_proof_at, newest_account_since
    from bound_numbers

    union all

    -- with no account bound, any proof may be a new holder's: nothing tells the holders apart
    select phone, max(last_at) as last_proof_at, cast(null as bigint) as newest_account_since
    from unbound_proofs
    group by phone
)

select * from final
