"""The one validated settings object (`OWNERSHIP_*` environment variables, DESIGN §8)."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AwareDatetime,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from delivery.gateway_signatures import decode_secret
from ownership.notifications import ACTION_AGE_DAYS_MAX, MAX_SMS_VALIDITY
from ownership.rules import RuleSettings
from pipelines.paths import DATA_DIR, input_files, stray_input_files

ADMIN_TOKEN_MIN_LENGTH = 32

# The store's databases: SQLite embedded, PostgreSQL through psycopg (3), the driver installed.
DEFAULT_DATABASE_URL = "sqlite:///./var/ownership.db"
SUPPORTED_DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")
DATABASE_URL_EXAMPLE = "sqlite:///var/ownership.db or postgresql+psycopg://user:password@host/db"


# The sizes DuckDB's `memory_limit` takes (probed on DuckDB 2.0): a number, then a unit of
# 1000^i (KB, MB, GB, TB, or K, M, G, T, or the words) or 1024^i (KiB, MiB, GiB, TiB), any case;
# or a share of the machine's memory, 1-100 %.
def _memory_units() -> dict[str, int]:
    units: dict[str, int] = {}
    for power, (letter, word) in enumerate(
        (("k", "kilo"), ("m", "mega"), ("g", "giga"), ("t", "tera")), start=1
    ):
        decimal = 1000**power
        units |= {letter: decimal, f"{letter}b": decimal, f"{word}byte": decimal}
        units |= {f"{word}bytes": decimal, f"{letter}ib": 1024**power}
    return units


MEMORY_UNITS = _memory_units()
MEMORY_SIZE = re.compile(r"(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z]+)", re.IGNORECASE)
MEMORY_SHARE = re.compile(r"(?P<percent>\d+(?:\.\d*)?)\s*%")
# Below this DuckDB cannot run the models at all (16 MB fails on a history of 200 numbers).
MIN_MEMORY_LIMIT_BYTES = 64 * 1024**2
# Far above any machine, and below what DuckDB's parser overflows on.
MAX_MEMORY_LIMIT_BYTES = 1000**5
MEMORY_LIMIT_EXAMPLE = "give a size such as 8GB, 500MB or 6GiB, or a share of the memory: 80%"
DEFAULT_REGION_EXAMPLE = "give a two-letter region (ISO 3166-1) such as RU, KZ or BY"

# Upper bounds of the durations and counts below: far past any use, yet small enough that the
# times computed from them (a timedelta, a scheduler's interval, a moment in the store) exist.
MINUTE, HOUR, DAY = 60, 3_600, 86_400
TEN_YEARS_DAYS = 3_650
# DuckDB's threads each take a core's share of work and their own buffers: past the cores they
# only queue (10,000 makes a small history take minutes, 100,000 never ends). A fixed bound
# rather than a multiple of os.cpu_count(), which a container reports as the host's, keeps a
# setting valid on every machine it is deployed to; 1024 is above the largest servers' cores.
MAX_THREADS = 1_024
# The channel simulators' seed: a signed 64-bit whole number from 0. Negative seeds are refused
# as the command line's --seed refuses them (random.Random takes -1 for 1); the top is far from
# Python's limit on writing an integer out, which the SMS simulator's hash of the seed meets.
MAX_SIMULATOR_SEED = 2**63 - 1
# A client's calls a second per API worker: far past what a worker answers (thousands of checks
# a second), so that "no limit in practice" can be said without 0; and the bucket at most that.
MAX_CLIENT_RATE = 100_000
# The lowest rate but 0 (off): one call an hour. Below it a refused call's Retry-After would
# run to days, and a rate of 1e-320 to a wait no integer holds.
MIN_CLIENT_RATE = 1 / 3_600
MAX_CLIENT_BURST = 1_000_000
GATEWAY_URL_EXAMPLE = "https://sms-gateway.example/v1"
# The fewest days a notification with its outcome is kept. A request is known as a repeat (and
# given its first answer) only while its notification is kept; a repeat of one forgotten must
# be refused for its stale user action, as any request is whose action is older than its
# client may answer (at most ACTION_AGE_DAYS_MAX days; a notification is accepted at most
# minutes after its action), never accepted as a new notification and sent again.
MIN_NOTIFICATION_RETENTION_DAYS = ACTION_AGE_DAYS_MAX + 1
# A retention of no days: the notifications are kept, and only forgotten by hand.
RETENTION_OFF = 0


def memory_limit_bytes(text: str) -> float | None:
    """The bytes a memory size names (`8GB`); None for anything else, a share of the machine's
    memory (`80%`) included."""
    size = MEMORY_SIZE.fullmatch(text.strip())
    if size is None or size["unit"].lower() not in MEMORY_UNITS:
        return None
    return float(size["number"]) * MEMORY_UNITS[size["unit"].lower()]


def check_memory_limit(text: str) -> str:
    """`text` if DuckDB takes it as a memory limit the models can run in, else a `ValueError`
    whose one line says why and gives an example."""
    text = text.strip()
    if share := MEMORY_SHARE.fullmatch(text):
        if not 1 <= float(share["percent"]) <= 100:
            raise ValueError(
                f"memory limit {text!r} is not a share of 1-100 %; {MEMORY_LIMIT_EXAMPLE}"
            )
        return text
    limit = memory_limit_bytes(text)
    if limit is None:
        raise ValueError(f"memory limit {text!r} is not a memory size; {MEMORY_LIMIT_EXAMPLE}")
    if limit < MIN_MEMORY_LIMIT_BYTES:
        raise ValueError(
            f"memory limit {text!r} is below {MIN_MEMORY_LIMIT_BYTES // 1024**2}MiB, "
            f"too little for DuckDB to score in; {MEMORY_LIMIT_EXAMPLE}"
        )
    if limit > MAX_MEMORY_LIMIT_BYTES:
        raise ValueError(f"memory limit {text!r} is above 1PB; {MEMORY_LIMIT_EXAMPLE}")
    return text


def check_default_region(text: str) -> str:
    """`text` in capitals if phonenumbers knows it as a region (`ru` → `RU`), the country a
    phone text written without its code (`8 (923) 456-78-23`) is read in; else a `ValueError`
    whose one line gives an example."""
    import phonenumbers  # only where a region is given: every command loads the settings

    region = text.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"default region {text!r} is not a region phonenumbers knows; {DEFAULT_REGION_EXAMPLE}"
        )
    return region


def _variable(field: str) -> str:
    """The environment variable a setting is read from."""
    return f"OWNERSHIP_{field.upper()}"


def check_gateway_url(url: str) -> str:
    """`url` if it is an absolute http(s) URL with a host that the calls' paths can go under,
    else a `ValueError` of one line that never repeats the URL (a refused one may hold a
    password or a key). Refused too: a user or password (the HTTP client would send it as
    Basic auth in place of the bearer token), a query or a fragment (`{base}/messages` would
    land inside it: `/v1?key=abc/messages`, whose 404 reads as "the gateway took none")."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it refuses a port that is no number or past 65535
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(character.isspace() or not character.isprintable() for character in url)
    ):
        raise ValueError(f"is not an absolute http(s) URL such as {GATEWAY_URL_EXAMPLE}")
    tokens = _variable("gateway_tokens")
    if "@" in parts.netloc:
        raise ValueError(
            "carries a user name or password, which would replace the bearer token; "
            f"the gateway's token goes in {tokens}, the URL is just the base "
            f"such as {GATEWAY_URL_EXAMPLE}"
        )
    for mark, what in (("?", "a query"), ("#", "a fragment")):
        if mark in url:
            raise ValueError(
                f"carries {what} ({mark}...), inside which the calls' paths would land; "
                f"the gateway's token goes in {tokens}, the URL is just the base "
                f"such as {GATEWAY_URL_EXAMPLE}"
            )
    return url


# how long a service on a sped-up clock may run: its virtual time must stay a time meanwhile
# (a month at the fastest, a virtual day a second, reaches the 92nd century)
CLOCK_HORIZON = timedelta(days=30)


def kinds_missing(history: Path) -> list[str]:
    """The kinds of DESIGN §3 that `history` has no folder of; `verifications` is not wanted:
    the notify path's exports make it, from the store's results."""
    from pipelines.contracts import INPUT_KINDS

    return [k for k in INPUT_KINDS if k != "verifications" and not (history / k).is_dir()]


def _a_folder(path: Path) -> Path:
    if not path.is_dir():
        raise ValueError(f"{path} {'is not a folder' if path.exists() else 'does not exist'}")
    return path


def check_database_url(url: str) -> str:
    """`url` if it names a database the store runs on, else a `ValueError` of one line that
    gives an example (and never repeats the URL, which may hold a password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        scheme = make_url(url).drivername
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ValueError(f"the database URL is not a URL; use {DATABASE_URL_EXAMPLE}") from None
    if scheme in SUPPORTED_DATABASE_SCHEMES:
        return url
    if scheme.split("+")[0] == "postgres":  # a common spelling SQLAlchemy does not know
        raise ValueError(f"{scheme}:// is spelled postgresql+psycopg:// here")
    if scheme.split("+")[0] in ("sqlite", "postgresql"):
        raise ValueError(
            f"{scheme}:// needs a driver not installed here; use {DATABASE_URL_EXAMPLE}"
        )
    raise ValueError(
        f"{scheme}:// databases are not supported: the store runs on SQLite or on PostgreSQL "
        f"through psycopg; use {DATABASE_URL_EXAMPLE}"
    )


# the settings an empty value leaves refused rather than at their default (Settings)
EMPTY_IS_AN_ERROR = frozenset(
    {
        "database_url",
        "scores_dir",
        "secret_key_file",
        "gateway_urls",
        "gateway_tokens",
        "gateway_secrets",
        "moderation_rules_path",
    }
)


class Settings(BaseSettings):
    # a refused setting's error never repeats its value: it may be a token or a password
    # and no number setting is infinite or NaN: a duration of inf overflows where it is used
    model_config = SettingsConfigDict(
        env_prefix="OWNERSHIP_",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        allow_inf_nan=False,
    )

    database_url: str = DEFAULT_DATABASE_URL
    scores_dir: Path = Path("var/scores")

    # Fernet key(s) sealing the secrets in the store, comma-separated, newest first (rotation).
    # Kept out of the database; unset, a key file is made on first use, readable by its owner.
    secret_key: SecretStr | None = None
    secret_key_file: Path = Path("var/secret.key")
    # OAuth 1.0a: how far a request's timestamp may stray from the server's clock, both ways
    oauth_timestamp_skew_seconds: int = Field(300, gt=0, le=DAY)
    # nonces are kept this long; a replay of an older one is refused by its timestamp instead
    nonce_retention_seconds: int = Field(900, gt=0, le=7 * DAY)

    possession_window_days: int = Field(90, gt=0, le=TEN_YEARS_DAYS)
    freshness_days: int = Field(30, gt=0, le=TEN_YEARS_DAYS)
    activity_days: int = Field(7, gt=0, le=TEN_YEARS_DAYS)
    permanent_failures_min: int = Field(1, ge=1, le=1_000)
    profile_mismatch_min_fields: int = Field(2, ge=1, le=3)
    registration_code_grace_seconds: int = Field(3_600, ge=0, le=30 * DAY)

    # A run whose share of rejected rows passes this publishes nothing.
    max_reject_share: float = Field(0.01, ge=0.0, le=1.0)
    # DuckDB's memory limit (e.g. "8GB"); past it DuckDB spills to disk instead of failing.
    memory_limit: str | None = None
    threads: int | None = Field(None, ge=1, le=MAX_THREADS)
    # The engine of the models for the nightly run and `ownership score` without `--engine`:
    # DuckDB on this machine, or Spark (its master from Spark's own spark-defaults.conf).
    score_engine: Literal["duckdb", "spark"] = "duckdb"
    # The country of the phone texts written without a country code (`89234567823`, a national
    # form a feed writes), e.g. "RU"; unset, such a text is rejected. A text with a `+` keeps
    # its own country.
    default_region: str | None = None

    @field_validator("database_url")
    @classmethod
    def _database_url_is_supported(cls, url: str) -> str:
        # the default is known good: a batch run that keeps it does not pay for SQLAlchemy
        return url if url == DEFAULT_DATABASE_URL else check_database_url(url)

    @field_validator("client_rate_limit", mode="before")
    @classmethod
    def _client_rate_written_as_zero_to_be_off(cls, rate: object) -> object:
        # `1e-400` reads as 0.0, which is no limit: a rate written with a digit but 0 is not
        if not isinstance(rate, str) or not re.search(r"[1-9]", rate.lower().split("e")[0]):
            return rate
        try:
            read = float(
                rate.replace("_", "")
            )  # as pydantic reads `1_e-400`, which Python does not
        except ValueError:
            return rate  # refused as no number by the field's own check
        if read == 0:
            raise ValueError(
                f"a rate of {rate.strip()} calls a second is below one an hour "
                f"({MIN_CLIENT_RATE:.6f}); give 0 for no limit"
            )
        return rate

    @field_validator("client_rate_limit")
    @classmethod
    def _client_rate_is_off_or_an_hourly_call_at_least(cls, rate: float) -> float:
        if 0 < rate < MIN_CLIENT_RATE:
            raise ValueError(
                f"a rate of {rate:g} calls a second is below one an hour ({MIN_CLIENT_RATE:.6f});"
                " give 0 for no limit"
            )
        return rate

    @field_validator("memory_limit")
    @classmethod
    def _memory_limit_is_a_size(cls, limit: str | None) -> str | None:
        if limit is None or not limit.strip():
            return None
        return check_memory_limit(limit)

    @field_validator("default_region")
    @classmethod
    def _default_region_is_known(cls, region: str | None) -> str | None:
        if region is None or not region.strip():
            return None
        return check_default_region(region)

    # How often an API worker looks for a newly published snapshot, in seconds.
    snapshot_check_seconds: float = Field(1.0, gt=0, le=HOUR)
    # the largest request body the API reads (a bulk check of 10,000 numbers is about 250 kB);
    # a larger one is answered 413 before it is buffered
    max_body_bytes: int = Field(1_048_576, ge=65_536, le=1 << 30)
    # How often a process reads the re-verification answers other workers recorded since its
    # last read (the live overlay); what it learns itself it applies at once.
    overlay_refresh_seconds: float = Field(1.0, gt=0, le=HOUR)
    # Each client's calls, a second, that an API worker answers; past them it answers 429
    # TOO_MANY_REQUESTS with Retry-After (api.rate_limit). Per worker: with N workers a client
    # may make N times as many in all. A bulk check is one call. 0, the default: no limit.
    client_rate_limit: float = Field(0.0, ge=0, le=MAX_CLIENT_RATE)
    # How many calls a client may make at once above that rate (the bucket's size). Unset:
    # two seconds' worth of the rate, at least 1, so that it scales with the rate an operator
    # sets: a client that sends a page of checks together, or catches up after a pause, is let
    # through while it keeps to the rate on average, and a runaway loop is held to the rate
    # within two seconds. A fixed number would be too tight for a high rate (50 at 1,000/s is a
    # 50 ms jitter) and too loose for a low one. Ignored while the rate is 0.
    client_rate_burst: int | None = Field(None, ge=1, le=MAX_CLIENT_BURST)

    # The notify path's jobs (DESIGN §7, §8): how often accepted notifications are dispatched
    # and expired ones swept into SMS; how long past its `valid_until` (by when its gateway
    # reports it, `expired` at the latest) an SMS may go without a delivery report before it
    # counts as failed.
    notify_dispatch_seconds: float = Field(0.2, gt=0, le=HOUR)
    # How many notifications a worker carries at once, each waiting for its gateway's answer
    # on a thread of its own; by default 8 when a channel has a gateway, and 1 with the
    # simulators alone, which answer at once (threads would only contend for the store). At
    # most the store's connection pool (5, and 10 more under load).
    notify_dispatch_concurrency: int | None = Field(None, ge=1, le=15)
    notify_sweep_seconds: float = Field(1.0, gt=0, le=HOUR)
    sms_report_timeout_seconds: float = Field(3_600.0, gt=0, le=7 * DAY)
    # How long past its TTL a notification's SMS may still be handed to the SMS gateway: one
    # the gateway has not confirmed taking by then (it could not be reached, or no worker ran)
    # is not sent, and is `sms_failed`. SMS gateways keep a queued message for hours (4 to 72
    # by default), not for ever. At least ten minutes: a notification waits up to five past
    # its TTL for its network to be asked to withdraw it, before its SMS goes. Once the SMS is
    # taken to go, it is worth delivering this long from then (`valid_until`). A notification
    # may ask for less (`sms_validity`, down to five minutes), never for more; the most either
    # may be is the same week.
    sms_validity_seconds: float = Field(36_000.0, ge=600, le=MAX_SMS_VALIDITY.total_seconds())
    # Re-verification codes' SMS one number is sent at most within so many minutes, whatever
    # notifications and clients ask for them (a notification's own replacement codes among
    # them); past them a notification's code is not sent, and it goes by its fallback as one
    # whose code the SMS gateway refused. Those SMS are the service's own cost, billed to no one:
    # unbounded, a client could have a person's phone sent one code after another (SMS
    # pumping). A window up to a day, the longest TTL.
    code_sms_per_number: int = Field(5, ge=1, le=1_000)
    code_sms_window_minutes: int = Field(60, ge=1, le=DAY // MINUTE)
    # The history whose `accounts` the social-network simulators know (the demo's, say).
    history_dir: Path | None = None
    # The nightly scoring run (DESIGN §8), a job of `ownership worker`: every day at
    # `score_at` (UTC, HH:MM) the re-verification results go into this history and it is scored
    # into `scores_dir`. Unset: no nightly run.
    score_events_dir: Path | None = None
    score_at: time = time(2, 0)
    # Virtual seconds a real second, for the demo's simulators and TTLs (1: real time). With
    # `clock_anchor` (a real moment), virtual time reads `clock_start` (default: the anchor)
    # then, in every process alike, so that a restarted one goes on where the last one was.
    clock_speed: float = Field(1.0, gt=0, le=DAY)  # at most a virtual day a real second
    clock_anchor: AwareDatetime | None = None
    clock_start: AwareDatetime | None = None
    # Run the notify path's jobs in the API process (one worker only; `ownership serve --jobs`).
    run_jobs: bool = False

    # The rules of the templates' automatic moderation (DESIGN §7), a file in the contract of
    # data/schemas/moderation_rules.yaml; read once when a process starts.
    moderation_rules_path: Path = DATA_DIR / "moderation_rules.yaml"
    # Whether a notification's callback_url may lead to a loopback, private or link-local
    # address (the service and its clients on one private network). Off, the API refuses such
    # an address written in the URL, and the webhook sender refuses to connect where a host
    # name resolves to one: the service would POST signed bodies into its own network on a
    # client's say-so. The webhook URLs registered with `ownership clients` are not limited.
    callback_private_addresses: bool = False

    # The balancers in front of the API whose X-Forwarded-For and X-Forwarded-Proto headers
    # are believed (comma-separated addresses or CIDRs, or "*" for any): they tell the caller's
    # address, which the allow-list checks, and the scheme the client signed. Unset, no such
    # header is believed, so no caller on the machine can claim another's address.
    forwarded_allow_ips: str = ""

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _forwarded_allow_ips_are_networks(cls, text: str) -> str:
        entries = [entry.strip() for entry in text.split(",") if entry.strip()]
        for entry in entries:
            if entry != "*":
                try:
                    ip_network(entry, strict=True)
                except ValueError as error:
                    raise ValueError(f"{entry!r} is not an address, a CIDR or *: {error}") from None
        return ",".join(entries)

    # The moderators' bearer token for /v1/admin/* (`Authorization: Bearer …`), at least 32
    # characters (`python -c "import secrets; print(secrets.token_urlsafe(32))"`). Unset or
    # blank, the admin routes answer 404 and moderators use `ownership templates`.
    admin_token: SecretStr | None = None

    @field_validator("admin_token")
    @classmethod
    def _admin_token_is_long_or_unset(cls, token: SecretStr | None) -> SecretStr | None:
        if token is None or not token.get_secret_value().strip():
            return None
        if len(token.get_secret_value()) < ADMIN_TOKEN_MIN_LENGTH:
            raise ValueError(f"admin_token needs at least {ADMIN_TOKEN_MIN_LENGTH} characters")
        return token

    # The channel gateways (DESIGN §7), each keyed by channel: "vk", "ok", "sms"; JSON in the
    # environment, e.g. OWNERSHIP_GATEWAY_SECRETS='{"vk": "whsec_...", "sms": "whsec_..."}'.
    # Standard Webhooks secrets (whsec_<base64>) that a gateway signs its inbound events with;
    # a channel without one has its events refused (401).
    gateway_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    # how far an event's webhook-timestamp may stray from the server's clock, both ways
    gateway_signature_tolerance_seconds: int = Field(300, gt=0, le=DAY)
    # Where to send through a real gateway, and its bearer token; a channel with no URL runs on
    # its simulator (seeded with simulator_seed).
    gateway_urls: dict[str, str] = Field(default_factory=dict)
    gateway_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    simulator_seed: int = Field(0, ge=0, le=MAX_SIMULATOR_SEED)
    # A CSV file of numbers whose simulated person does as it says (a No, a Yes, no answer, a
    # message never delivered; delivery.channels.simulator_script), for a demo's or sandbox's
    # test numbers; the process running the simulators reads it as it starts (`ownership
    # worker`, `serve --jobs`: refused there beside a VK or OK gateway, whose people answer for
    # themselves), and again when it changes. API workers that run no jobs never read it.
    simulator_script: Path | None = None

    # Webhooks to clients (DESIGN §7): how often the outbox is read, how long one POST may
    # take, how long a failing event is retried, and how long a dispatcher holds the events
    # it claimed before another may send them again (a dispatcher that died mid-send).
    webhook_dispatch_seconds: float = Field(1.0, gt=0, le=HOUR)
    webhook_timeout_seconds: float = Field(5.0, gt=0, le=10 * MINUTE)
    webhook_retry_hours: float = Field(24.0, gt=0, le=30 * 24)
    webhook_lease_seconds: float = Field(300.0, gt=0, le=DAY)
    webhook_batch_size: int = Field(100, ge=1, le=10_000)
    webhook_concurrency: int = Field(8, ge=1, le=256)
    # delivered and given-up events are kept this long for the operator, then deleted
    webhook_retention_days: float = Field(30.0, gt=0, le=TEN_YEARS_DAYS)
    # Notifications with their outcome (delivered, read, their SMS delivered or failed, failed,
    # expired without fallback) are kept this long after it, with their history and SMS code,
    # then forgotten by `ownership worker` (the bill is not: the billing ledger is kept). 400
    # days by default: a bank reconciles its bill every month, and a customer disputes a
    # statement of the year after the year. At least MIN_NOTIFICATION_RETENTION_DAYS (366);
    # 0 keeps every notification (a sender bound to keep them longer, or forgetting by hand).
    notification_retention_days: int = Field(400, le=TEN_YEARS_DAYS)

    @field_validator("notification_retention_days")
    @classmethod
    def _forgotten_requests_are_refused_as_stale(cls, days: int) -> int:
        if days != RETENTION_OFF and days < MIN_NOTIFICATION_RETENTION_DAYS:
            raise ValueError(
                f"must be {RETENTION_OFF} (keep every notification) or at least "
                f"{MIN_NOTIFICATION_RETENTION_DAYS} days: a client may be "
                f"allowed user actions {ACTION_AGE_DAYS_MAX} days old, and a repeated request "
                "whose notification was forgotten sooner would be sent again, not answered as "
                "the first time"
            )
        return days

    # The paths a process opens when it starts are checked now, so that a wrong one is one
    # line naming its setting. A folder or file that is made on first use (the scores, the
    # key file) may be missing, but not be the wrong kind of thing.
    @field_validator("scores_dir")
    @classmethod
    def _scores_dir_is_a_folder_if_it_exists(cls, folder: Path) -> Path:
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder} is not a folder (the one `ownership score --out` fills)")
        return folder

    @field_validator("secret_key_file")
    @classmethod
    def _secret_key_file_is_a_file_if_it_exists(cls, path: Path) -> Path:
        if path.exists() and not path.is_file():
            raise ValueError(f"{path} is not a file")
        return path

    @field_validator("moderation_rules_path")
    @classmethod
    def _moderation_rules_are_a_readable_file(cls, path: Path) -> Path:
        if not path.is_file():
            raise ValueError(f"{path} {'is not a file' if path.exists() else 'does not exist'}")
        if not os.access(path, os.R_OK):
            raise ValueError(f"{path} cannot be read (permission denied)")
        return path

    @field_validator("score_at")
    @classmethod
    def _score_at_is_a_utc_minute(cls, at: time) -> time:
        if at.tzinfo is not None or at.second or at.microsecond:
            raise ValueError("give the time of day as HH:MM, in UTC")
        return at

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_the_default(cls, value: object, info: ValidationInfo) -> object:
        # `OWNERSHIP_THREADS=` (an environment file's empty line) means the default, as an
        # unset variable does. Not for what says where the service works: an empty store,
        # gateway, scores folder or key file, a substitution that failed, must not start it on
        # a local store, the simulators or the working folder.
        if not isinstance(value, str) or value.strip():
            return value
        if info.field_name in EMPTY_IS_AN_ERROR:
            raise ValueError("is empty: give it a value, or leave it unset for its default")
        return cls.model_fields[str(info.field_name)].get_default(call_default_factory=True)

    @field_validator(
        "threads",
        "notify_dispatch_concurrency",
        "client_rate_burst",
        "history_dir",
        "score_events_dir",
        "clock_anchor",
        "clock_start",
        "simulator_script",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `OWNERSHIP_THREADS=` (a template's empty variable) means the default, as an unset
        # one does; a blank folder would be the working folder (found wanting at 02:00)
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("score_events_dir")
    @classmethod
    def _score_events_dir_is_a_history(cls, path: Path | None) -> Path | None:
        if path is None:
            return None
        from pipelines.contracts import INPUT_KINDS

        missing = kinds_missing(_a_folder(path))
        if missing:
            raise ValueError(
                f"{path} is not a history (DESIGN §3): it has no {', '.join(missing)} folder"
            )
        stray = stray_input_files(_a_folder(path), INPUT_KINDS)
        if stray:  # the nightly run would refuse it at 02:00: said now, at start-up
            raise ValueError(stray)
        return path

    @model_validator(mode="after")
    def _scores_dir_is_outside_the_nightly_history(self) -> Self:
        # the nightly run refuses to publish into its history, where the next run would read
        # the scores as input: said at start-up, not at every night's run (through links too)
        events = self.score_events_dir
        if events is not None and self.scores_dir.resolve().is_relative_to(events.resolve()):
            raise ValueError(
                f"{_variable('scores_dir')}: {self.scores_dir} is inside "
                f"{_variable('score_events_dir')} {events}, whose next run would read the scores "
                "as input; choose a folder outside it"
            )
        return self

    @field_validator("history_dir")
    @classmethod
    def _history_has_accounts(cls, history: Path | None) -> Path | None:
        if history is None:
            return None
        accounts = _a_folder(history) / "accounts"
        if not input_files(accounts):
            raise ValueError(f"{accounts} has no *.parquet or *.csv files (DESIGN §3)")
        return history

    @field_validator("secret_key")
    @classmethod
    def _secret_keys_are_fernet_keys(cls, key: SecretStr | None) -> SecretStr | None:
        if key is None or not key.get_secret_value().strip():
            return None
        from store.secrets import SecretCipher, SecretKeyError  # cryptography only when set

        try:
            SecretCipher(key.get_secret_value().split(","))
        except SecretKeyError as error:  # its message never holds the key
            raise ValueError(str(error)) from None
        return key

    @field_validator("gateway_urls")
    @classmethod
    def _gateway_urls_are_absolute_http_urls(cls, urls: dict[str, str]) -> dict[str, str]:
        for channel, url in sorted(urls.items()):
            try:
                check_gateway_url(url)
            except ValueError as error:
                raise ValueError(f"the {channel} gateway's URL {error}") from None
        return urls

    @model_validator(mode="after")
    def _nonces_outlive_the_timestamp_window(self) -> Self:
        # a request stamped before now - skew is refused as stale, so its nonce may go
        if self.nonce_retention_seconds < self.oauth_timestamp_skew_seconds:
            raise ValueError(
                "OWNERSHIP_NONCE_RETENTION_SECONDS must be at least "
                "OWNERSHIP_OAUTH_TIMESTAMP_SKEW_SECONDS, or a replayed request could outlive "
                "its nonce"
            )
        return self

    @model_validator(mode="after")
    def _gateways_are_channels_with_what_they_need(self) -> Self:
        channels = {"vk", "ok", "sms"}
        for field in ("gateway_secrets", "gateway_urls", "gateway_tokens"):
            unknown = set(getattr(self, field)) - channels
            if unknown:
                raise ValueError(
                    f"{_variable(field)}: {sorted(unknown)} are not channels (vk, ok, sms)"
                )
        for channel, secret in self.gateway_secrets.items():
            try:
                decode_secret(secret.get_secret_value())
            except ValueError as error:
                raise ValueError(f"{_variable('gateway_secrets')}[{channel}]: {error}") from error
        untokened = set(self.gateway_urls) - set(self.gateway_tokens)
        if untokened:
            raise ValueError(
                f"{_variable('gateway_urls')} of {sorted(untokened)} need "
                f"{_variable('gateway_tokens')}"
            )
        # a gateway we send through reports back signed; without its secret every report is
        # refused (401), and every notification ends up expired and sent by SMS
        unsigned = set(self.gateway_urls) - set(self.gateway_secrets)
        if unsigned:
            raise ValueError(
                f"{_variable('gateway_urls')} of {sorted(unsigned)} need "
                f"{_variable('gateway_secrets')}"
            )
        if self.gateway_tokens:
            from delivery.channels.http import is_bearer_token  # httpx only when a gateway is set

            for channel, token in sorted(self.gateway_tokens.items()):
                if not is_bearer_token(token.get_secret_value()):  # never the token in the error
                    raise ValueError(
                        f"{_variable('gateway_tokens')}[{channel}] must be visible ASCII "
                        "without spaces "
                        "(a newline read from a file, say, is not)"
                    )
        return self

    def gateway_secret_texts(self) -> dict[str, str]:
        return {name: secret.get_secret_value() for name, secret in self.gateway_secrets.items()}

    @model_validator(mode="after")
    def _a_webhook_batch_is_sent_within_its_lease(self) -> Self:
        # a batch still sending when its lease ran out would be sent again meanwhile
        rounds = -(-self.webhook_batch_size // self.webhook_concurrency)
        if self.webhook_lease_seconds <= rounds * self.webhook_timeout_seconds:
            raise ValueError(
                f"{_variable('webhook_lease_seconds')}: must exceed the time a batch can take "
                f"({_variable('webhook_timeout_seconds')} x {_variable('webhook_batch_size')} / "
                f"{_variable('webhook_concurrency')})"
            )
        return self

    @model_validator(mode="after")
    def _the_clock_reads_a_time(self) -> Self:
        if self.clock_start is not None and self.clock_anchor is None:
            raise ValueError(
                f"{_variable('clock_start')}: needs {_variable('clock_anchor')}, the real moment "
                "at which the clock reads it"
            )
        if self.clock_anchor is not None:
            # virtual time must stay a time for as long as a service may run on it
            start, now = self.clock_start or self.clock_anchor, datetime.now(UTC)
            try:
                for moment in (now, now + CLOCK_HORIZON):
                    start + (moment - self.clock_anchor) * self.clock_speed
            except OverflowError:
                raise ValueError(
                    f"{_variable('clock_anchor')}, {_variable('clock_start')} and "
                    f"{_variable('clock_speed')} would run the clock past the years 1 to 9999 "
                    "within a month"
                ) from None
        return self

    def secret_key_text(self) -> str | None:
        return self.secret_key.get_secret_value() if self.secret_key else None

    def rules(self) -> RuleSettings:
        return RuleSettings(
            possession_window_days=self.possession_window_days,
            freshness_days=self.freshness_days,
            activity_days=self.activity_days,
            permanent_failures_min=self.permanent_failures_min,
            profile_mismatch_min_fields=self.profile_mismatch_min_fields,
            registration_code_grace_seconds=self.registration_code_grace_seconds,
        )


# OWNERSHIP_ variables read outside the settings: the notebooks' store and traffic, the suite's
# PostgreSQL
READ_ELSEWHERE = frozenset(
    {
        "OWNERSHIP_NOTIFICATIONS_URL",
        "OWNERSHIP_NOTIFICATIONS_PER_NUMBER",
        "OWNERSHIP_TEST_POSTGRES_URL",
    }
)


def unknown_settings(environ: Mapping[str, str]) -> list[str]:
    """What to say of each OWNERSHIP_ variable of `environ` that no setting reads: a misspelt
    name is ignored, and its setting keeps its default (`OWNERSHIP_SCORE_EVENT_DIR is no
    setting, and is ignored; did you mean OWNERSHIP_SCORE_EVENTS_DIR?`)."""
    known = [_variable(name) for name in Settings.model_fields]
    said = []
    for name in sorted(environ):
        variable = name.upper()
        if not variable.startswith("OWNERSHIP_") or variable in known:
            continue
        if variable in READ_ELSEWHERE:
            continue
        close = difflib.get_close_matches(variable, known, n=1, cutoff=0.8)
        meant = f"; did you mean {close[0]}?" if close else ""
        said.append(f"{name} is no setting, and is ignored{meant}")
    return said


def load_settings(**overrides: object) -> Settings:
    """Read the environment once, failing fast on a bad value; `overrides` win (CLI flags)."""
    return Settings.model_validate(
        {key: value for key, value in overrides.items() if value is not None}
    )
