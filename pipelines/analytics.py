"""Frames for analysts, straight from a scores folder (`scores.parquet` + `manifest.json`) and
from the notification store (`notifications`, `notification_events`, `billing_ledger`).

Every figure is a query in `pipelines/sql/analytics/`, run by DuckDB with bound parameters, so a
notebook shows the production definitions instead of re-implementing them. Countries come from
the country table by longest prefix, prices from the same `PriceTable` billing uses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from delivery.channels.curves import PUBLISHED_DELIVERY, SocialCurve
from ownership.channels import Channel
from ownership.countries import CountryTable
from ownership.notifications import NotificationStatus
from ownership.prices import PriceTable, UnknownPriceError
from ownership.verdicts import Status
from pipelines import duckdb_engine
from pipelines.publish import MANIFEST_FILE, SCORES_FILE
from pipelines.reference import load_countries
from pipelines.sqlfiles import analytics_sql
from pipelines.store_frames import StoreReadError, read_tables

# DESIGN §11: the large sender saved about 35 % "with 60 % coverage and 60 % delivered within
# 1 h" (1 h is the default TTL, after which a notification falls back to SMS).
BRIEF_COVERAGE = 0.60
BRIEF_DELIVERED_WITHIN_TTL = 0.60
RISK_BIN_WIDTH = 50

COUNTRY_SCHEMA = {
    "iso": pl.String,
    "name": pl.String,
    "prefix": pl.String,
    "vk_monthly_users_m": pl.Float64,
    "ok_monthly_users_m": pl.Float64,
    "vk_share_of_social": pl.Float64,
}
PUBLISHED_SCHEMA = {
    "row_order": pl.Int64,
    "measure": pl.String,
    "label": pl.String,
    "horizon_seconds": pl.Float64,
    "published_share": pl.Float64,
}
PRICE_SCHEMA = {
    "prefix": pl.String,
    "sms_rub": pl.Float64,
    "vk_rub": pl.Float64,
    "ok_rub": pl.Float64,
}


class AnalyticsInputError(ValueError):
    """A scores folder or a traffic frame cannot be analysed; the message says why."""


def read_manifest(scores_dir: Path) -> dict[str, Any]:
    path = Path(scores_dir) / MANIFEST_FILE
    if not path.is_file():
        raise AnalyticsInputError(_not_scored(path))
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def scores_as_of(scores_dir: Path) -> datetime:
    """The moment the scores describe (the manifest's `as_of`), in UTC and saying so, as the
    scores file's times do: comparable with them in pandas and Polars."""
    moment = datetime.strptime(read_manifest(scores_dir)["as_of"], "%Y-%m-%dT%H:%M:%SZ")
    return moment.replace(tzinfo=UTC)


def status_summary(scores_dir: Path) -> pl.DataFrame:
    """Numbers, share and risk scores per status, every status of the contract listed."""
    with _scores(scores_dir) as con:
        return _frame(con, "status_summary", {"statuses": [status.value for status in Status]})


def status_by_country(scores_dir: Path, countries: CountryTable | None = None) -> pl.DataFrame:
    """Numbers per status, the owner_changed share and the mean risk score, per country."""
    with _scores(scores_dir) as con:
        _register_countries(con, _or_shipped(countries))
        _locate(con, "src_scores")
        return _frame(con, "status_by_country")


def reason_frequency(scores_dir: Path) -> pl.DataFrame:
    """Numbers per reason code, most frequent first, with their share of all numbers."""
    with _scores(scores_dir) as con:
        return _frame(con, "reason_frequency")


def owner_since_recency(scores_dir: Path) -> pl.DataFrame:
    """Numbers per status by how long before the scores' as_of the holder took the number;
    band 'none' where no holder is known (no history, or none shown since a change)."""
    with _scores(scores_dir) as con:
        return _status_counts(con, "owner_since_bands", group="band")


def risk_histogram(scores_dir: Path, bin_width: int = RISK_BIN_WIDTH) -> pl.DataFrame:
    """Numbers per status in each `bin_width`-point bin of risk_score, keyed by the bin's first
    point, every bin from 0 listed; the last bin also holds 1000."""
    if isinstance(bin_width, bool) or not isinstance(bin_width, int) or not 0 < bin_width <= 1000:
        raise AnalyticsInputError(f"bin_width {bin_width!r} is not a whole 1-1000 points")
    with _scores(scores_dir) as con:
        return _status_counts(con, "risk_bins", group="bin_start", params={"bin_width": bin_width})


def uniform_traffic(scores_dir: Path, notifications_per_number: float = 1.0) -> pl.DataFrame:
    """Traffic of `notifications_per_number` for every scored number: phone, notifications."""
    if not math.isfinite(notifications_per_number) or notifications_per_number < 0:
        raise AnalyticsInputError(
            f"notifications_per_number {notifications_per_number} is not a count of 0 or more"
        )
    with _scores(scores_dir) as con:
        return _frame(
            con, "uniform_traffic", {"notifications_per_number": notifications_per_number}
        )


def country_coverage(
    countries: CountryTable | None = None, coverage: float | Mapping[str, float] = BRIEF_COVERAGE
) -> pl.DataFrame:
    """Each country's VK and OK audience (DESIGN §11) and the coverage assumed for it:
    one share for every country, or a share per ISO code."""
    table = _or_shipped(countries)
    with _session() as con:
        _register_countries(con, table)
        _coverage(con, table, coverage)
        return _table(con, "country_coverage")


@dataclass(frozen=True)
class CostComparison:
    by_country: pl.DataFrame  # see pipelines/sql/analytics/cost_by_country.sql
    total: pl.DataFrame  # one row: see cost_total.sql


def cost_against_sms(
    traffic: pl.DataFrame,
    prices: PriceTable,
    at: datetime | date,
    countries: CountryTable | None = None,
    coverage: float | Mapping[str, float] = BRIEF_COVERAGE,
    delivered_share: float = BRIEF_DELIVERED_WITHIN_TTL,
) -> CostComparison:
    """The cost of `traffic` (phone, notifications) sent all by SMS against social-first with
    SMS fallback, by country, at the prices in force at `at`."""
    missing = {"phone", "notifications"} - set(traffic.columns)
    if missing:
        raise AnalyticsInputError(f"traffic lacks column(s) {', '.join(sorted(missing))}")
    if not 0.0 <= delivered_share <= 1.0:
        raise AnalyticsInputError(f"delivered_share {delivered_share} is not a share")
    table = _or_shipped(countries)
    with _session() as con:
        con.register("src_traffic", traffic.select("phone", "notifications"))
        _register_countries(con, table)
        _locate(con, "src_traffic")
        _coverage(con, table, coverage)
        con.register("src_prices", _prices_frame(table, prices, at))
        _materialise(con, "cost_by_country", {"delivered_share": delivered_share})
        return CostComparison(
            by_country=_table(con, "cost_by_country"), total=_frame(con, "cost_total")
        )


@dataclass(frozen=True)
class DeliveryFunnel:
    stages: pl.DataFrame  # see pipelines/sql/analytics/delivery_funnel.sql
    timing: pl.DataFrame  # against the published curve: see delivery_timing.sql


def delivery_funnel(store_url: str, ttl: timedelta | None = None) -> DeliveryFunnel:
    """How many notifications of the store took each status and how soon after acceptance;
    and, of those sent in a social network, the share delivered within 1 min, 1 h and 24 h and
    read within 24 h of being sent, beside the published shares. `ttl`: only the notifications
    of that TTL."""
    with _notifications(store_url, ("notifications", "notification_events")) as con:
        _steps(con, ttl)
        con.register("src_published", _published_frame())
        stages = _frame(con, "delivery_funnel", {"stages": [s.value for s in NotificationStatus]})
        return DeliveryFunnel(stages=stages, timing=_frame(con, "delivery_timing"))


def fallbacks_by_reason(store_url: str, ttl: timedelta | None = None) -> pl.DataFrame:
    """Why notifications of the store went by SMS (the policy's row, a refusal, a denial, or
    the TTL running out), how many, and how their SMS ended."""
    with _notifications(store_url, ("notifications", "notification_events")) as con:
        _steps(con, ttl)
        return _frame(con, "fallbacks_by_reason")


def billing_by_country_channel(
    store_url: str, countries: CountryTable | None = None
) -> pl.DataFrame:
    """The billing ledger's deliveries and amounts by country and channel."""
    with _notifications(store_url, ("billing_ledger",)) as con:
        _register_countries(con, _or_shipped(countries))
        return _frame(con, "billing_by_country_channel")


@dataclass(frozen=True)
class BilledComparison:
    by_country: pl.DataFrame  # see pipelines/sql/analytics/billed_against_sms.sql
    total: pl.DataFrame  # one row: see billed_total.sql


def billed_against_sms(
    store_url: str,
    prices: PriceTable,
    at: datetime | date | None = None,
    countries: CountryTable | None = None,
) -> BilledComparison:
    """What the store's notifications were billed, beside the same notifications all by SMS
    (`cost_against_sms`, at the prices in force at `at`, default the first acceptance) and
    the brief's model of social-first, by country."""
    table = _or_shipped(countries)
    with _notifications(store_url, ("notifications", "billing_ledger")) as con:
        traffic = _frame(con, "notification_traffic")
        if traffic.is_empty():
            raise AnalyticsInputError(_nothing_to_compare(con))
        priced_at = _moment(at) if at is not None else traffic["first_accepted_at"].min()
        assert isinstance(priced_at, datetime)  # a frame's minimum of its datetime column
        modelled = cost_against_sms(traffic, prices, priced_at, table)
        con.register("src_modelled", modelled.by_country)
        _materialise(con, "billed_against_sms")
        return BilledComparison(
            by_country=_table(con, "billed_against_sms"), total=_frame(con, "billed_total")
        )


def _nothing_to_compare(con: duckdb.DuckDBPyConnection) -> str:
    bills = con.table("stg_billing_ledger").shape[0]
    if not bills:
        return "the store holds no notification"
    # the ledger keeps every bill; what a forgotten notification would have cost by SMS is gone
    kept = f"{bills:,} bill" + ("" if bills == 1 else "s")
    return (
        f"the store keeps {kept} but none of the notifications billed, which were forgotten "
        "(OWNERSHIP_NOTIFICATION_RETENTION_DAYS, or `ownership notifications forget`): "
        "nothing to compare with SMS"
    )


def _moment(at: datetime | date) -> datetime:
    """A day as its start: a price set on that day is in force."""
    return at if isinstance(at, datetime) else datetime.combine(at, time.min)


@contextmanager
def _notifications(store_url: str, tables: tuple[str, ...]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A session with the staging models of the store's tables (`stg_<table>`)."""
    try:
        frames = read_tables(store_url, tables)
    except StoreReadError as error:
        raise AnalyticsInputError(str(error)) from error
    with _session() as con:
        for name, frame in frames.items():
            con.register(f"src_{name}", frame)
            con.sql(analytics_sql(f"stg_{name}")).create_view(f"stg_{name}")
        yield con


def _steps(con: duckdb.DuckDBPyConnection, ttl: timedelta | None) -> None:
    seconds = None if ttl is None else ttl.total_seconds()
    _materialise(con, "int_notification_steps", {"ttl_seconds": seconds})


def _published_frame() -> pl.DataFrame:
    """The published shares (DESIGN §11), as the simulators' curve holds them."""
    curve = SocialCurve()
    labels = {60.0: "1 min", 3_600.0: "1 h", 86_400.0: "24 h"}
    rows: list[tuple[int, str, str, float, float]] = [
        (order, "delivered", labels.get(seconds, f"{seconds:g} s"), seconds, share)
        for order, (seconds, share) in enumerate(PUBLISHED_DELIVERY.knots[1:], start=1)
    ]
    horizon = curve.read_horizon.total_seconds()
    label = labels.get(horizon, f"{horizon:g} s")
    rows.append((len(rows) + 1, "read", label, horizon, curve.read_share))
    return pl.DataFrame(rows, schema=PUBLISHED_SCHEMA, orient="row")


@contextmanager
def _session() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb_engine.connect()
    try:
        yield con
    finally:
        con.close()


@contextmanager
def _scores(scores_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A session with `src_scores`, the scores of the folder."""
    path = Path(scores_dir) / SCORES_FILE
    if not path.is_file():
        raise AnalyticsInputError(_not_scored(path))
    with _session() as con:
        con.read_parquet(str(path)).create_view("src_scores")
        yield con


def _not_scored(path: Path) -> str:
    """Why a scores folder's file is missing, as far as the folder tells."""
    where = f"{path}: file not found"
    if not path.is_absolute():  # a notebook's kernel runs in notebooks/, not where it started
        with suppress(OSError):  # the working folder is gone: nothing to name
            where += f" (a relative path, read from {Path.cwd()})"
    summary = path.parent / "rejects" / "summary.json"
    try:
        published = json.loads(summary.read_text(encoding="utf-8")).get("published")
    except (OSError, ValueError, AttributeError, RecursionError):  # none a run wrote
        published = None
    if published is False:
        return f"{where}; the last run into this folder published nothing: see {summary}"
    return f"{where}; run `ownership score` first"


def _frame(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None
) -> pl.DataFrame:
    frame: pl.DataFrame = con.sql(analytics_sql(name), params=params).pl()
    return frame


def _table(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    frame: pl.DataFrame = con.table(name).pl()
    return frame


def _materialise(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None
) -> None:
    con.sql(analytics_sql(name), params=params).create(name)


def _status_counts(
    con: duckdb.DuckDBPyConnection, grouping: str, group: str, params: dict[str, Any] | None = None
) -> pl.DataFrame:
    """Numbers per status in each group the query `grouping` puts them in, as `group`."""
    _materialise(con, grouping, params)
    con.table(grouping).create_view("grouped_numbers")
    return _frame(con, "status_counts").drop("group_order").rename({"group_key": group})


def _register_countries(con: duckdb.DuckDBPyConnection, countries: CountryTable) -> None:
    con.register("src_countries", _countries_frame(countries))


def _locate(con: duckdb.DuckDBPyConnection, numbers: str) -> None:
    """`number_countries`: the relation named `numbers` with each number's country."""
    con.table(numbers).create_view("src_numbers")
    _materialise(con, "number_countries")


def _coverage(
    con: duckdb.DuckDBPyConnection,
    countries: CountryTable,
    coverage: float | Mapping[str, float],
) -> None:
    """`country_coverage`, from `src_countries` and one coverage share per country."""
    isos = [country.iso for country in countries]
    per_country = {iso: coverage for iso in isos} if isinstance(coverage, int | float) else coverage
    unset = [iso for iso in isos if iso not in per_country]
    if unset:
        raise AnalyticsInputError(f"no coverage given for {', '.join(unset)}")
    wrong = [iso for iso in isos if not 0.0 <= per_country[iso] <= 1.0]
    if wrong:
        raise AnalyticsInputError(f"coverage of {', '.join(wrong)} is not a share")
    shares = pl.DataFrame(
        {"iso": isos, "coverage": [float(per_country[iso]) for iso in isos]},
        schema={"iso": pl.String, "coverage": pl.Float64},
    )
    con.register("src_coverage", shares)
    _materialise(con, "country_coverage")


def _countries_frame(countries: CountryTable) -> pl.DataFrame:
    return pl.DataFrame(
        [
            (
                country.iso,
                country.name,
                country.prefix,
                country.vk_monthly_users_m,
                country.ok_monthly_users_m,
                country.vk_share_of_social,
            )
            for country in countries
        ],
        schema=COUNTRY_SCHEMA,
        orient="row",
    )


def _prices_frame(countries: CountryTable, prices: PriceTable, at: datetime | date) -> pl.DataFrame:
    """Each country's price per delivered message by channel at `at`; null where the table has
    no SMS price for the country (its traffic is then left uncosted, and counted)."""
    rows = []
    for country in countries:
        rubs: list[float | None]
        try:
            rubs = [
                float(prices.price(country, channel, at))
                for channel in (Channel.SMS, Channel.VK, Channel.OK)
            ]
        except UnknownPriceError:
            rubs = [None, None, None]
        rows.append((country.prefix, *rubs))
    return pl.DataFrame(rows, schema=PRICE_SCHEMA, orient="row")


def _or_shipped(countries: CountryTable | None) -> CountryTable:
    return load_countries() if countries is None else countries
