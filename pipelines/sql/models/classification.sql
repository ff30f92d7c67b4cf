-- classification: the status, reasons, risk score and owner_since of every number (DESIGN §4).
-- grain: one row per number. refresh: full, as of run_params.as_of.
-- checks: the queries in sql/audits/ (one row a number, risk within its status band, a reason
-- for every verdict, nothing after as_of) run after every build and stop a bad run.
--
-- Owner-change evidence comes first: open evidence (no proof by the bound holder since) makes
-- the number owner_changed. Otherwise the number is judged within the current tenure:
-- verified on a recent confirmation, or on a recent code with no doubt against it; suspicious
-- on any doubt; unknown with no events at all.
--
-- owner_since is the current holder's first evidence after the latest change (DESIGN §4): the
-- first event when nothing changed, null for unknown numbers and for owner_changed numbers no
-- holder has shown on since the change.
--
-- Risk bands: verified 0-299, suspicious 300-699, unknown 500, owner_changed 700-1000.
-- Inside a band the score orders by strength and recency of the evidence.
with numbers as (
    select * from int_numbers
),

tenures as (
    select * from int_tenures
),

codes as (
    select * from int_code_features
),

sms as (
    select * from int_sms_features
),

gaps as (
    select * from int_sms_gaps
),

registrations as (
    select * from int_registration_features
),

others as (
    select * from int_other_features
),

channels as (
    select * from int_channels
),

params as (
    select * from run_params
),

joined as (
    select
        numbers.phone,
        numbers.first_seen_at,
        params.as_of,
        params.possession_window_s,
        coalesce(tenures.is_open, false) as is_open,
        tenures.tenure_start,
        tenures.profile_mismatch_at,
        tenures.number_change_at,
        tenures.permanent_failure_at,
        tenures.owner_denied_at,
        codes.first_tenure_code_at,
        codes.last_social_code_at,
        codes.first_social_code_at,
        coalesce(codes.free_social_codes, 0) as free_social_codes,
        coalesce(codes.free_code_days, 0) as free_code_days,
        codes.last_free_social_code_at,
        codes.last_registration_code_at,
        sms.first_delivered_at,
        sms.last_delivered_at,
        coalesce(sms.first_delivered_period < sms.last_delivered_period, false)
            as delivered_in_two_periods,
        gaps.phone is not null as has_sms_gap,
        gaps.sms_gap_at,
        coalesce(registrations.profiles_agree, false) as profiles_agree,
        registrations.first_tenure_registration_at,
        registrations.last_tenure_registration_at,
        coalesce(registrations.social_registrations, 0) as social_registrations,
        registrations.first_social_registration_at,
        others.first_tenure_confirmed_at,
        others.last_confirmed_at,
        coalesce(channels.vk_bound, false) as vk_bound,
        coalesce(channels.vk_active, false) as vk_active,
        coalesce(channels.vk_mobile_app, false) as vk_mobile_app,
        coalesce(channels.ok_bound, false) as ok_bound,
        coalesce(channels.ok_active, false) as ok_active,
        coalesce(channels.ok_mobile_app, false) as ok_mobile_app,
        -- a proof is recent when it is no older than its window
        coalesce(codes.last_social_code_at >= params.as_of - params.possession_window_s, false)
            as has_recent_code,
        coalesce(sms.last_delivered_at >= params.as_of - params.possession_window_s, false)
            as has_recent_delivery,
        coalesce(others.last_confirmed_at >= params.as_of - params.freshness_s, false)
            as has_recent_confirmation
    from numbers
    cross join params
    left join tenures on numbers.phone = tenures.phone
    left join codes on numbers.phone = codes.phone
    left join sms on numbers.phone = sms.phone
    left join gaps on numbers.phone = gaps.phone
    left join registrations on numbers.phone = registrations.phone
    left join others on numbers.phone = others.phone
    left join channels on numbers.phone = channels.phone
),

signals as (
    select
        joined.*,
        -- doubts about the tenure (suspicious)
        social_registrations > 0 and free_social_codes = 0
            and last_registration_code_at is not null as only_registration_code,
        -- codes on fewer days than once every W since the tenure's first social registration
        -- or code: days, not codes, so that a burst of codes long ago does not stand for
        -- years of them
        free_social_codes > 0
            and free_code_days * possession_window_s
                < as_of - coalesce(first_social_registration_at, first_social_code_at)
            as sparse_code_entries,
        not has_recent_code and not has_recent_confirmation as no_recent_code,
        -- support for the tenure (verified): SMS delivered at least once every W, in two
        -- W-periods at least and up to W before as_of (a number that got no SMS for longer is
        -- not steady, though no failure says so: no SMS_GAP either); and registrations that agree
        delivered_in_two_periods and not has_sms_gap and has_recent_delivery
            as steady_sms_delivery,
        profiles_agree as profiles_match
    from joined
),

statuses as (
    select
        signals.*,
        case
            when first_seen_at is null then 'unknown'
            when is_open then 'owner_changed'
            when has_recent_confirmation then 'verified'
            when has_recent_code and not only_registration_code and not sparse_code_entries
                and not has_sms_gap then 'verified'
            else 'suspicious'
        end as status
    from signals
),

evidenced as (
    select
        statuses.*,
        greatest(profile_mismatch_at, number_change_at, permanent_failure_at, owner_denied_at)
            as last_change_at,
        least(
            first_tenure_code_at,
            first_delivered_at,
            first_tenure_registration_at,
            first_tenure_confirmed_at
        ) as first_holder_evidence_at,
        greatest(last_social_code_at, last_confirmed_at) as last_proof_at
    from statuses
),

scored as (
    select
        evidenced.*,
        case status
            when 'unknown' then 500
            when 'owner_changed' then 700
                + least(
                    250,
                    (case when owner_denied_at is not null then 120 else 0 end)
                    + (case when number_change_at is not null then 100 else 0 end)
                    + (case when profile_mismatch_at is not null then 80 else 0 end)
                    + (case when permanent_failure_at is not null then 60 else 0 end)
                )
                + 50 - least((as_of - last_change_at) // 86400, 365) * 50 // 365
            when 'verified' then
                least((as_of - last_proof_at) // 86400, possession_window_s // 86400) * 150
                    // (possession_window_s // 86400)
                + (case when steady_sms_delivery then 0 else 75 end)
                + (case when profiles_match then 0 else 74 end)
            else 300
                + 60 * (
                    (case when no_recent_code then 1 else 0 end)
                    + (case when only_registration_code then 1 else 0 end)
                    + (case when sparse_code_entries then 1 else 0 end)
                    + (case when has_sms_gap then 1 else 0 end)
                )
                + coalesce(least((as_of - last_proof_at) // 86400, 365) * 159 // 365, 159)
        end as risk_score
    from evidenced
),

final as (
    select
        phone,
        status,
        risk_score,
        -- each reason: whether it holds, and the time of the event behind it
        status = 'owner_changed' and profile_mismatch_at is not null as has_profile_mismatch,
        profile_mismatch_at,
        status = 'owner_changed' and number_change_at is not null as has_number_change_reported,
        number_change_at as number_change_reported_at,
        status = 'owner_changed' and permanent_failure_at is not null
            as has_sms_permanent_failures,
        permanent_failure_at as sms_permanent_failures_at,
        status = 'owner_changed' and owner_denied_at is not null as has_owner_denied,
        owner_denied_at,
        status = 'verified' and has_recent_code as has_recent_code_entry,
        last_social_code_at as recent_code_entry_at,
        status = 'verified' and has_recent_confirmation as has_recent_confirmation,
        last_confirmed_at as recent_confirmation_at,
        status = 'verified' and steady_sms_delivery as has_steady_sms_delivery,
        last_delivered_at as steady_sms_delivery_at,
        status = 'verified' and profiles_match as has_profiles_match,
        last_tenure_registration_at as profiles_match_at,
        status = 'suspicious' and sparse_code_entries as has_sparse_code_entries,
        last_free_social_code_at as sparse_code_entries_at,
        status = 'suspicious' and only_registration_code as has_only_registration_code,
        last_registration_code_at as only_registration_code_at,
        status = 'suspicious' and no_recent_code as has_no_recent_code,
        last_social_code_at as no_recent_code_at,
        status = 'suspicious' and has_sms_gap as has_sms_gap,
        sms_gap_at,
        status = 'unknown' as has_no_history,
        cast(null as bigint) as no_history_at,
        -- owner_changed: the new holder's first evidence, and null while none has shown (a
        -- number out of service, or taken by someone not seen yet): the change alone vouches
        -- for no holder, so every date after it answers "changed" and none "held since"
        case
            when status = 'unknown' then null
            when status = 'owner_changed' then first_holder_evidence_at
            when tenure_start is null then first_seen_at
            else coalesce(first_holder_evidence_at, tenure_start)
        end as owner_since,
        first_seen_at,
        case when status = 'owner_changed' then null else last_social_code_at end as last_code_at,
        case when status = 'owner_changed' then null else last_confirmed_at end
            as last_confirmed_at,
        -- where the number can be reached (int_channels); served, not published in scores
        vk_bound,
        vk_active,
        vk_mobile_app,
        ok_bound,
        ok_active,
        ok_mobile_app,
        as_of
    from scored
)

select * from final
