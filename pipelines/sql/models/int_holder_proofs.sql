-- int_holder_proofs: the latest possession proof by the holder of the number's bound account.
-- grain: one row per number that has change evidence and a proof. refresh: full.
-- A proof is a code entered in VK or OK by the account bound to the number in that network
-- (by any VK or OK account when none is bound), or a confirmed re-verification. Only numbers
-- with change evidence need it, so the code entries are cut to those numbers first.
with codes as (
    select * from stg_code_entries
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

numbers_with_accounts as (
    select phone
    from accounts
    group by phone
),

social_codes as (
    select codes.phone, codes.ts, codes.product, codes.account_id
    from codes
    inner join numbers_in_question on codes.phone = numbers_in_question.phone
    where codes.product in ('vk', 'ok')
),

bound_codes as (
    select social_codes.phone, social_codes.ts
    from social_codes
    left join accounts
        on social_codes.phone = accounts.phone
        and social_codes.product = accounts.network
        and social_codes.account_id = accounts.account_id
    left join numbers_with_accounts on social_codes.phone = numbers_with_accounts.phone
    where accounts.account_id is not null or numbers_with_accounts.phone is null
),

confirmations as (
    select phone, ts
    from verifications
    where result = 'confirmed'
),

proofs as (
    select phone, ts from bound_codes
    union all
    select phone, ts from confirmations
),

final as (
    select phone, max(ts) as last_proof_at
    from proofs
    group by phone
)

select * from final
