"""Every setting is refused at load when it could only fail later: a number out of its finite
range, a gateway URL that is not one, a secret key that is not a key, a path of the wrong kind.
The refusal names the setting and never quotes a secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from pipelines.settings import MAX_THREADS, Settings, load_settings

NUMBER_SETTINGS = sorted(
    name
    for name, field in Settings.model_fields.items()
    if field.annotation in (int, float, int | None, float | None)
)
FLOAT_SETTINGS = sorted(
    name for name, field in Settings.model_fields.items() if field.annotation is float
)
GARBAGE_KEY = "not-a-fernet-key-but-a-secret"
SMS_URL = "https://sms-gateway.example/v1"


def _has_upper_bound(name: str) -> bool:
    return any(
        getattr(rule, "le", None) is not None or getattr(rule, "lt", None) is not None
        for rule in Settings.model_fields[name].metadata
    )


def test_every_number_setting_has_a_finite_upper_bound() -> None:
    assert [name for name in NUMBER_SETTINGS if not _has_upper_bound(name)] == []


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity"])
@pytest.mark.parametrize("name", FLOAT_SETTINGS)
def test_no_number_setting_takes_infinity_or_nan(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match="finite number") as refused:
        load_settings(**{name: value})

    assert refused.value.errors()[0]["loc"] == (name,)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("notify_dispatch_seconds", "1e12"),
        ("notify_sweep_seconds", "1e12"),
        ("sms_report_timeout_seconds", "1e12"),
        ("sms_validity_seconds", "1e12"),
        ("clock_speed", "1e12"),
        ("webhook_retention_days", "1e12"),
        ("notification_retention_days", 10**6),
        ("webhook_retry_hours", "1e12"),
        ("freshness_days", 10**12),
        ("webhook_batch_size", 10**9),
        ("code_sms_per_number", 10**6),
        ("code_sms_window_minutes", 10**6),
    ],
)
def test_a_duration_or_count_past_its_range_is_refused_by_name(name: str, value: object) -> None:
    with pytest.raises(ValidationError, match="less than or equal to") as refused:
        load_settings(**{name: value})

    assert refused.value.errors()[0]["loc"] == (name,)


def test_duckdb_takes_up_to_1024_threads_and_no_more() -> None:
    assert load_settings(threads=MAX_THREADS).threads == MAX_THREADS
    with pytest.raises(ValidationError, match="less than or equal to 1024"):
        load_settings(threads=10_000)


def test_the_defaults_lie_within_every_range() -> None:
    assert load_settings().webhook_retention_days == 30.0
    assert load_settings().notification_retention_days == 400


def test_a_number_is_sent_five_codes_an_hour_by_default_within_at_most_a_day() -> None:
    settings = load_settings()
    assert (settings.code_sms_per_number, settings.code_sms_window_minutes) == (5, 60)
    assert load_settings(code_sms_window_minutes=1_440).code_sms_window_minutes == 1_440
    with pytest.raises(ValidationError, match="less than or equal to 1440"):
        load_settings(code_sms_window_minutes=1_441)


@pytest.mark.parametrize("name", ["code_sms_per_number", "code_sms_window_minutes"])
def test_no_code_sms_limit_is_zero(name: str) -> None:
    # none would be sent at all: the codes' re-verification would be off, without a word
    with pytest.raises(ValidationError, match="greater than or equal to 1") as refused:
        load_settings(**{name: 0})

    assert refused.value.errors()[0]["loc"] == (name,)


def test_notifications_are_kept_longer_than_any_client_may_repeat_a_request() -> None:
    # a repeat of a forgotten request is refused for its stale action, never sent again
    assert load_settings(notification_retention_days=366).notification_retention_days == 366
    with pytest.raises(ValidationError, match="at least 366 days: a client may be allowed"):
        load_settings(notification_retention_days=365)


@pytest.mark.parametrize("days", [-1, 1, 365])
def test_a_retention_is_off_at_zero_days_and_refused_below_a_year_and_a_day(days: int) -> None:
    assert load_settings(notification_retention_days=0).notification_retention_days == 0
    with pytest.raises(ValidationError, match=r"must be 0 \(keep every notification\) or at"):
        load_settings(notification_retention_days=days)


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "gateway.bank.example/send",
        "ftp://sms-gateway.example/",
        "https:///v1",
        "https://sms-gateway.example:99999/",
        "https://sms gateway.example/",
    ],
)
def test_a_gateway_url_must_be_an_absolute_http_url_and_is_never_quoted(url: str) -> None:
    with pytest.raises(ValidationError, match="the sms gateway's URL is not an absolute") as bad:
        load_settings(gateway_urls={"sms": url})

    assert url not in str(bad.value)


def test_a_gateway_on_plain_http_is_a_url() -> None:
    with pytest.raises(
        ValidationError, match="need OWNERSHIP_GATEWAY_TOKENS"
    ):  # past the URL's check
        load_settings(gateway_urls={"sms": "http://10.0.0.5:8080/send"})


def test_a_secret_key_that_is_not_a_fernet_key_is_refused_without_showing_it() -> None:
    with pytest.raises(ValidationError, match="is not a Fernet key") as refused:
        load_settings(secret_key=GARBAGE_KEY)

    assert GARBAGE_KEY not in str(refused.value)


def test_a_rotation_with_one_bad_key_among_good_ones_is_refused() -> None:
    good = Fernet.generate_key().decode()

    with pytest.raises(ValidationError, match="is not a Fernet key"):
        load_settings(secret_key=f"{good},{GARBAGE_KEY}")
    assert load_settings(secret_key=f"{good},{good}").secret_key_text() == f"{good},{good}"


def test_a_blank_secret_key_leaves_the_key_file_in_charge() -> None:
    assert load_settings(secret_key="  ").secret_key_text() is None


def test_a_scores_dir_that_is_a_file_is_refused_but_one_not_made_yet_is_fine(
    tmp_path: Path,
) -> None:
    a_file = tmp_path / "scores"
    a_file.write_text("not a folder")

    with pytest.raises(ValidationError, match="is not a folder"):
        load_settings(scores_dir=a_file)
    assert load_settings(scores_dir=tmp_path / "later").scores_dir == tmp_path / "later"


def test_a_key_file_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is not a file"):
        load_settings(secret_key_file=tmp_path)


def test_moderation_rules_must_be_a_file_that_exists(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        load_settings(moderation_rules_path=tmp_path / "rules.yaml")
    with pytest.raises(ValidationError, match="is not a file"):
        load_settings(moderation_rules_path=tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_moderation_rules_nobody_may_read_are_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\n")
    rules.chmod(0)

    with pytest.raises(ValidationError, match="cannot be read"):
        load_settings(moderation_rules_path=rules)


def test_a_history_dir_must_be_a_folder_with_accounts(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        load_settings(history_dir=tmp_path / "nowhere")
    with pytest.raises(ValidationError, match=r"accounts has no \*\.parquet or \*\.csv files"):
        load_settings(history_dir=tmp_path)

    (tmp_path / "accounts").mkdir()
    (tmp_path / "accounts" / "part-0.csv").write_text("network,account_id\n")
    assert load_settings(history_dir=tmp_path).history_dir == tmp_path


@pytest.mark.parametrize("at", ["02:00+03:00", "02:00:30", "25:00"])
def test_the_nightly_runs_time_is_a_minute_of_the_day_in_utc(at: str) -> None:
    with pytest.raises(ValidationError, match="score_at"):
        load_settings(score_at=at)


@pytest.mark.parametrize(
    "name",
    [
        "threads",
        "notify_dispatch_concurrency",
        "history_dir",
        "score_events_dir",
        "clock_anchor",
        "clock_start",
    ],
)
@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_optional_setting_is_its_default(
    monkeypatch: pytest.MonkeyPatch, name: str, blank: str
) -> None:
    monkeypatch.setenv(f"OWNERSHIP_{name.upper()}", blank)

    assert getattr(load_settings(), name) is None
