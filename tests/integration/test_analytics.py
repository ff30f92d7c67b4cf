"""The analysts' frames (pipelines.analytics) on a hand-made scores folder of eight numbers."""

from __future__ import annotations

from datetime import UTC, date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from ownership.channels import Channel
from ownership.countries import Country, CountryTable
from ownership.prices import Price, PriceTable
from pipelines import analytics
from pipelines.analytics import AnalyticsInputError
from tests.factories import AS_OF, Scores, days_ago

pytestmark = pytest.mark.integration

# A tiny country table of its own: Germany is left out on purpose.
COUNTRIES = CountryTable(
    [
        Country("RU", "Russia", "7", 59, None),
        Country("KZ", "Kazakhstan", "77", 4.8, 2.5),
        Country("BY", "Belarus", "375", 3.2, 2.7),
    ]
)

# Named numbers; the comments say how long the holder has had the number, as of AS_OF.
RU_VERIFIED = "+79230000001"  # 400 days: older than a year
RU_SUSPICIOUS = "+79230000002"  # 200 days: within the year
RU_CHANGED = "+79230000003"  # exactly 1 day: within the last day, the bound included
RU_NO_HISTORY = "+79230000004"  # no owner_since
KZ_CHANGED = "+77010000005"  # 3 days: within the week
KZ_VERIFIED = "+77010000006"  # exactly 7 days: within the week, the bound included
BY_SUSPICIOUS = "+375291234567"  # 60 days: within the quarter
DE_OUTSIDE_TABLE = "+4915112345678"  # 20 days: within the month


@pytest.fixture
def scores(tmp_path: Path) -> Path:
    return (
        Scores()
        .number(
            RU_VERIFIED,
            "verified",
            100,
            ["RECENT_CODE_ENTRY", "STEADY_SMS_DELIVERY"],
            days_ago(400),
        )
        .number(RU_SUSPICIOUS, "suspicious", 450, ["NO_RECENT_CODE", "SMS_GAP"], days_ago(200))
        .number(RU_CHANGED, "owner_changed", 900, ["PROFILE_MISMATCH"], days_ago(1))
        .number(RU_NO_HISTORY, "unknown", 500, ["NO_HISTORY"])
        .number(
            KZ_CHANGED,
            "owner_changed",
            750,
            ["NUMBER_CHANGE_REPORTED", "SMS_PERMANENT_FAILURES"],
            days_ago(3),
        )
        .number(KZ_VERIFIED, "verified", 0, ["RECENT_CODE_ENTRY"], days_ago(7))
        .number(BY_SUSPICIOUS, "suspicious", 650, ["NO_RECENT_CODE"], days_ago(60))
        .number(
            DE_OUTSIDE_TABLE,
            "suspicious",
            300,
            ["NO_RECENT_CODE", "ONLY_REGISTRATION_CODE"],
            days_ago(20),
        )
        .write(tmp_path / "scores")
    )


def rows(frame: pl.DataFrame, *columns: str) -> list[tuple[object, ...]]:
    return frame.select(columns).rows()


def test_the_manifest_gives_the_moment_the_scores_describe(scores: Path) -> None:
    assert analytics.scores_as_of(scores) == AS_OF.replace(tzinfo=UTC)
    assert analytics.read_manifest(scores)["statuses"]["suspicious"] == 3


def test_the_scores_moment_compares_with_the_times_of_the_scores_file(scores: Path) -> None:
    frame = pl.read_parquet(scores / "scores.parquet")

    assert frame.filter(pl.col("as_of") == analytics.scores_as_of(scores)).height == 8


def test_every_status_is_summarised_in_enum_order_even_when_absent(scores: Path) -> None:
    summary = analytics.status_summary(scores)

    assert rows(summary, "status", "numbers", "min_risk_score", "max_risk_score") == [
        ("unknown", 1, 500, 500),
        ("verified", 2, 0, 100),
        ("suspicious", 3, 300, 650),
        ("owner_changed", 2, 750, 900),
    ]
    assert summary.get_column("share").to_list() == [1 / 8, 2 / 8, 3 / 8, 2 / 8]
    assert summary.get_column("mean_risk_score").to_list() == pytest.approx(
        [500, 50, 1400 / 3, 825]
    )


def test_numbers_take_the_country_of_their_longest_prefix(scores: Path) -> None:
    by_country = analytics.status_by_country(scores, COUNTRIES)

    assert rows(
        by_country, "iso", "numbers", "verified", "suspicious", "owner_changed", "unknown"
    ) == [
        ("RU", 4, 1, 1, 1, 1),
        ("KZ", 2, 1, 0, 1, 0),  # +7701…: Kazakhstan's 77, not Russia's 7
        ("BY", 1, 0, 1, 0, 0),
        (None, 1, 0, 1, 0, 0),  # outside the table, kept and counted
    ]
    assert by_country.get_column("owner_changed_share").to_list() == [0.25, 0.5, 0.0, 0.0]
    assert by_country.get_column("mean_risk_score").to_list() == [487.5, 375.0, 650.0, 300.0]


def test_reasons_are_counted_by_the_numbers_they_explain(scores: Path) -> None:
    reasons = analytics.reason_frequency(scores)

    assert rows(reasons, "reason", "numbers") == [
        ("NO_RECENT_CODE", 3),
        ("RECENT_CODE_ENTRY", 2),
        ("NO_HISTORY", 1),
        ("NUMBER_CHANGE_REPORTED", 1),
        ("ONLY_REGISTRATION_CODE", 1),
        ("PROFILE_MISMATCH", 1),
        ("SMS_GAP", 1),
        ("SMS_PERMANENT_FAILURES", 1),
        ("STEADY_SMS_DELIVERY", 1),
    ]
    assert reasons.get_column("share").head(2).to_list() == [3 / 8, 2 / 8]


def test_owner_since_falls_in_bands_before_the_scores_as_of(scores: Path) -> None:
    recency = analytics.owner_since_recency(scores)

    assert rows(recency, "band", "numbers", "verified", "suspicious", "owner_changed") == [
        ("day", 1, 0, 0, 1),
        ("week", 2, 1, 0, 1),
        ("month", 1, 0, 1, 0),
        ("quarter", 1, 0, 1, 0),
        ("year", 1, 0, 1, 0),
        ("older", 1, 1, 0, 0),
        ("none", 1, 0, 0, 0),
    ]
    assert recency.get_column("unknown").to_list() == [0, 0, 0, 0, 0, 0, 1]


def test_scores_whose_times_carry_no_zone_fall_in_the_same_bands(tmp_path: Path) -> None:
    """Releases before 2026-11-28 wrote scores.parquet's times without their zone."""
    folder = (
        Scores()
        .number(RU_CHANGED, "owner_changed", 900, ["PROFILE_MISMATCH"], days_ago(1))
        .number(BY_SUSPICIOUS, "suspicious", 650, ["NO_RECENT_CODE"], days_ago(60))
    )

    zoned = analytics.owner_since_recency(folder.write(tmp_path / "zoned"))
    unzoned = analytics.owner_since_recency(folder.write(tmp_path / "unzoned", zoned=False))

    assert rows(unzoned, "band", "numbers") == rows(zoned, "band", "numbers")
    assert rows(zoned, "band", "numbers")[:4] == [
        ("day", 1),
        ("week", 0),
        ("month", 0),
        ("quarter", 1),
    ]
    assert analytics.scores_as_of(tmp_path / "unzoned") == AS_OF.replace(tzinfo=UTC)


def test_an_owner_changed_number_no_holder_has_shown_on_falls_in_the_none_band(
    tmp_path: Path,
) -> None:
    folder = (
        Scores()
        .number(RU_CHANGED, "owner_changed", 830, ["NUMBER_CHANGE_REPORTED"])
        .number(KZ_CHANGED, "owner_changed", 900, ["PROFILE_MISMATCH"], days_ago(3))
        .write(tmp_path)
    )

    recency = analytics.owner_since_recency(folder)

    assert rows(recency, "band", "owner_changed") == [
        ("day", 0),
        ("week", 1),
        ("month", 0),
        ("quarter", 0),
        ("year", 0),
        ("older", 0),
        ("none", 1),
    ]


def test_the_risk_histogram_lists_every_bin(scores: Path) -> None:
    histogram = analytics.risk_histogram(scores, bin_width=250)

    assert rows(histogram, "bin_start", "numbers", "suspicious", "unknown") == [
        (0, 2, 0, 0),
        (250, 2, 2, 0),  # 450 and 300
        (500, 2, 1, 1),  # 650 and unknown's 500
        (750, 2, 0, 0),  # 900 and 750
    ]


def test_a_risk_score_of_1000_falls_in_the_last_bin(tmp_path: Path) -> None:
    folder = Scores().number(RU_CHANGED, "owner_changed", 1000, ["OWNER_DENIED"]).write(tmp_path)

    histogram = analytics.risk_histogram(folder, bin_width=300)

    assert rows(histogram, "bin_start", "numbers") == [(0, 0), (300, 0), (600, 0), (900, 1)]


def test_uniform_traffic_gives_every_scored_number_the_same_count(scores: Path) -> None:
    traffic = analytics.uniform_traffic(scores, notifications_per_number=2.5)

    assert traffic.height == 8
    assert set(traffic.get_column("notifications")) == {2.5}


def test_coverage_lists_each_country_with_its_audience() -> None:
    coverage = analytics.country_coverage(COUNTRIES, {"RU": 0.5, "KZ": 0.7, "BY": 0.6})

    assert rows(
        coverage, "iso", "social_users_at_least_m", "social_users_at_most_m", "coverage"
    ) == [
        ("RU", 59.0, None, 0.5),  # the brief has no OK figure for Russia: no upper bound
        ("KZ", 4.8, pytest.approx(7.3), 0.7),
        ("BY", 3.2, pytest.approx(5.9), 0.6),
    ]
    assert coverage.get_column("vk_share_of_social").to_list() == pytest.approx(
        [107 / 178, 4.8 / 7.3, 3.2 / 5.9]
    )


def test_coverage_must_be_given_for_every_country_as_a_share() -> None:
    with pytest.raises(AnalyticsInputError, match="no coverage given for BY"):
        analytics.country_coverage(COUNTRIES, {"RU": 0.5, "KZ": 0.7})
    with pytest.raises(AnalyticsInputError, match="coverage of RU is not a share"):
        analytics.country_coverage(COUNTRIES, {"RU": 1.5, "KZ": 0.7, "BY": 0.6})
    assert set(analytics.country_coverage(COUNTRIES, 1).get_column("coverage")) == {1.0}


# Prices of their own: Russia at 4 RUB an SMS (social a tenth by default), Kazakhstan at 5 with
# a VK price of its own.
PRICES = PriceTable.of(
    [
        Price("7", Channel.SMS, Decimal("4.00"), date(2025, 1, 1)),
        Price("77", Channel.SMS, Decimal("5.00"), date(2025, 1, 1)),
        Price("77", Channel.VK, Decimal("0.30"), date(2025, 1, 1)),
    ]
)
TRAFFIC = pl.DataFrame(
    {
        "phone": [RU_VERIFIED, RU_SUSPICIOUS, KZ_CHANGED, DE_OUTSIDE_TABLE],
        "notifications": [10.0, 30.0, 20.0, 5.0],
    }
)


def test_social_first_costs_the_delivered_share_at_social_prices_and_the_rest_as_sms() -> None:
    # Half the numbers reachable, 80 % of those delivered in time: 40 % of the traffic social.
    costs = analytics.cost_against_sms(
        TRAFFIC, PRICES, AS_OF, COUNTRIES, coverage=0.5, delivered_share=0.8
    )
    russia, kazakhstan, outside = costs.by_country.rows(named=True)

    assert (russia["iso"], russia["numbers"], russia["notifications"]) == ("RU", 2, 40.0)
    assert russia["sms_delivered"] == pytest.approx(24)
    assert russia["vk_delivered"] + russia["ok_delivered"] == pytest.approx(16)
    assert russia["all_sms_rub"] == pytest.approx(160)
    assert russia["social_first_rub"] == pytest.approx(16 * 0.4 + 24 * 4)
    assert russia["saving_share"] == pytest.approx(0.36)

    # Kazakhstan: 8 social, split VK : OK as 4.8 : 2.5, at 0.30 and 0.50; 12 by SMS at 5.
    kz_social = 8 * (4.8 * 0.30 + 2.5 * 0.50) / 7.3
    assert kazakhstan["vk_delivered"] == pytest.approx(8 * 4.8 / 7.3)
    assert kazakhstan["social_first_rub"] == pytest.approx(kz_social + 60)

    assert (outside["iso"], outside["notifications"], outside["all_sms_rub"]) == (None, 5.0, None)

    total = costs.total.row(0, named=True)
    assert total["notifications"] == 65
    assert total["notifications_without_price"] == 5
    assert total["all_sms_rub"] == pytest.approx(260)
    assert total["social_first_rub"] == pytest.approx(102.4 + kz_social + 60)
    assert total["saving_share"] == pytest.approx(1 - (162.4 + kz_social) / 260)


def test_the_brief_figures_save_about_a_third() -> None:
    # DESIGN §11: 60 % coverage and 60 % delivered within the hour saved "about 35 %".
    costs = analytics.cost_against_sms(TRAFFIC.head(1), PRICES, AS_OF, COUNTRIES)

    assert costs.total.item(0, "saving_share") == pytest.approx(1 - (0.36 * 0.1 + 0.64))


def test_traffic_is_priced_at_the_prices_in_force_at_that_time() -> None:
    raised = PriceTable.of(
        [*PRICES.prices, Price("7", Channel.SMS, Decimal("6"), date(2026, 1, 1))]
    )

    before = analytics.cost_against_sms(TRAFFIC.head(1), raised, date(2025, 12, 31), COUNTRIES)
    after = analytics.cost_against_sms(TRAFFIC.head(1), raised, date(2026, 1, 1), COUNTRIES)

    assert before.total.item(0, "all_sms_rub") == 40
    assert after.total.item(0, "all_sms_rub") == 60


def test_traffic_without_its_columns_is_refused() -> None:
    with pytest.raises(AnalyticsInputError, match="notifications"):
        analytics.cost_against_sms(TRAFFIC.select("phone"), PRICES, AS_OF, COUNTRIES)


def test_a_folder_without_scores_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AnalyticsInputError, match=r"scores\.parquet: file not found"):
        analytics.status_summary(tmp_path)
    with pytest.raises(AnalyticsInputError, match=r"manifest\.json: file not found"):
        analytics.scores_as_of(tmp_path)


def test_a_folder_a_refused_run_left_without_scores_says_so(tmp_path: Path) -> None:
    (tmp_path / "rejects").mkdir()
    (tmp_path / "rejects" / "summary.json").write_text('{"published": false}', "utf-8")

    with pytest.raises(
        AnalyticsInputError, match=r"the last run into this folder published nothing"
    ):
        analytics.status_summary(tmp_path)


def test_a_relative_folder_without_scores_names_where_it_was_read_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(AnalyticsInputError, match=rf"a relative path, read from {tmp_path}"):
        analytics.scores_as_of(Path("var/scores"))


@pytest.mark.parametrize("per_number", [-1.0, float("nan"), float("inf")])
def test_traffic_of_a_negative_or_no_count_is_refused(scores: Path, per_number: float) -> None:
    with pytest.raises(AnalyticsInputError, match="not a count of 0 or more"):
        analytics.uniform_traffic(scores, per_number)


@pytest.mark.parametrize("width", [50.5, True, 0, 1001])
def test_a_risk_bin_is_a_whole_number_of_points(scores: Path, width: int) -> None:
    with pytest.raises(AnalyticsInputError, match="not a whole 1-1000 points"):
        analytics.risk_histogram(scores, bin_width=width)


def test_a_relative_folder_read_from_a_removed_working_folder_is_still_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()

    with pytest.raises(AnalyticsInputError, match=r"manifest\.json: file not found; run"):
        analytics.scores_as_of(Path("var/scores"))
