"""`serve`, `worker` and `demo` refuse a bad setting in one line that names it, with exit 2,
before any work: a value out of range, a path of the wrong kind, a gateway URL the calls cannot
go to, a secret key or key file that cannot be used, moderation rules that cannot be read, a
store that cannot be reached. A secret's value is never printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command as command_line
from cryptography.fernet import Fernet
from pydantic import ValidationError

from delivery import worker
from pipelines.cli import UsageError, main
from pipelines.moderation_rules import MODERATION_RULES
from pipelines.serving_cli import check_start_up, demo_environment
from pipelines.settings import load_settings
from store.database import alembic_config, make_engine

GARBAGE_KEY = "garbage-that-is-also-a-secret"
NOW = "2026-11-28T00:00:00+00:00"
UNREACHABLE_STORE = "postgresql+psycopg://scorer:hunter2@127.0.0.1:9/ownership"


@pytest.fixture(autouse=True)
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's own store, scores and key file, never the working copy's."""
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", f"sqlite:///{tmp_path / 'ownership.db'}")
    monkeypatch.setenv("OWNERSHIP_SCORES_DIR", str(tmp_path / "scores"))
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    for name in ("SECRET_KEY", "MODERATION_RULES_PATH", "HISTORY_DIR", "RUN_JOBS"):
        monkeypatch.delenv(f"OWNERSHIP_{name}", raising=False)


def commands(tmp_path: Path) -> dict[str, list[str]]:
    demo = ["demo", "--phones", "50", "--dir", str(tmp_path / "demo"), "--port", "0"]
    return {"serve": ["serve", "--port", "0"], "worker": ["worker"], "demo": demo}


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The command's whole output: one error line, exit 2, no traceback."""
    assert main(argv) == 2
    printed = capsys.readouterr()
    message = printed.err.strip()
    assert message.startswith("error:") and "\n" not in message, message
    assert "Traceback" not in message and printed.out == ""
    return message


def nothing_was_done(tmp_path: Path) -> bool:
    return not (tmp_path / "demo" / "events").exists() and not (tmp_path / "ownership.db").exists()


@pytest.mark.parametrize("command", ["serve", "worker", "demo"])
@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("OWNERSHIP_SECRET_KEY", GARBAGE_KEY, "is not a Fernet key"),
        ("OWNERSHIP_MODERATION_RULES_PATH", "/nonexistent.yaml", "does not exist"),
        ("OWNERSHIP_HISTORY_DIR", "/nonexistent", "does not exist"),
        ("OWNERSHIP_SCORES_DIR", "/etc/passwd", "is not a folder"),
        ("OWNERSHIP_NOTIFY_DISPATCH_SECONDS", "inf", "finite number"),
        ("OWNERSHIP_NOTIFY_SWEEP_SECONDS", "inf", "finite number"),
        ("OWNERSHIP_SMS_REPORT_TIMEOUT_SECONDS", "inf", "finite number"),
        ("OWNERSHIP_CLOCK_SPEED", "inf", "finite number"),
        ("OWNERSHIP_WEBHOOK_RETENTION_DAYS", "1e12", "less than or equal to"),
        ("OWNERSHIP_WEBHOOK_RETRY_HOURS", "1e12", "less than or equal to"),
        ("OWNERSHIP_THREADS", "100000", "less than or equal to 1024"),
        ("OWNERSHIP_GATEWAY_URLS", '{"sms": "not a url"}', "is not an absolute http(s) URL"),
        (
            "OWNERSHIP_GATEWAY_URLS",
            f'{{"sms": "https://u:{GARBAGE_KEY}@gw.example/v1"}}',
            "the sms gateway's URL carries a user name or password",
        ),
        (
            "OWNERSHIP_GATEWAY_URLS",
            f'{{"sms": "https://gw.example/v1?key={GARBAGE_KEY}"}}',
            "the sms gateway's URL carries a query",
        ),
        ("OWNERSHIP_GATEWAY_URLS", "not json", "OWNERSHIP_GATEWAY_URLS: is not valid JSON"),
        ("OWNERSHIP_CLOCK_START", "2026-01-01T00:00:00Z", "needs OWNERSHIP_CLOCK_ANCHOR"),
        ("OWNERSHIP_SCORE_EVENTS_DIR", "/tmp", "is not a history"),
        ("OWNERSHIP_WEBHOOK_LEASE_SECONDS", "1", "must exceed the time a batch can take"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_before_any_work(
    command: str,
    variable: str,
    value: str,
    complaint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)

    message = refused(commands(tmp_path)[command], capsys)

    assert f"{variable}:" in message and complaint in message
    assert GARBAGE_KEY not in message
    assert nothing_was_done(tmp_path)


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_key_file_that_cannot_be_made_is_one_line_naming_its_setting(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY_FILE", str(tmp_path / "a-file" / "secret.key"))

    message = refused(commands(tmp_path)[command], capsys)

    assert f"OWNERSHIP_SECRET_KEY_FILE: cannot use the key file {tmp_path / 'a-file'}" in message
    assert nothing_was_done(tmp_path)


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_key_file_that_holds_no_key_is_one_line_naming_its_setting(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_text(GARBAGE_KEY)
    key_file.chmod(0o600)

    message = refused(commands(tmp_path)[command], capsys)

    assert "OWNERSHIP_SECRET_KEY_FILE: the secret key is not a Fernet key" in message
    assert GARBAGE_KEY not in message


@pytest.mark.parametrize("command", ["serve", "worker", "demo"])
def test_moderation_rules_that_do_not_parse_are_one_line_before_any_work(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text("version: 1\npromotions: [", "utf-8")
    monkeypatch.setenv("OWNERSHIP_MODERATION_RULES_PATH", str(broken))

    message = refused(commands(tmp_path)[command], capsys)

    assert f"OWNERSHIP_MODERATION_RULES_PATH: {broken}:" in message
    assert nothing_was_done(tmp_path)


def test_the_worker_with_a_store_it_cannot_reach_says_so_in_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", UNREACHABLE_STORE)

    message = refused(["worker"], capsys)

    assert "cannot open the store at postgresql+psycopg://scorer:***@127.0.0.1:9/" in message
    assert "hunter2" not in message


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_key_that_does_not_open_the_clients_secrets_is_one_line_naming_them(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", Fernet.generate_key().decode())
    assert main(["clients", "add", "bank", "--allow-ip", "203.0.113.0/24"]) == 0
    capsys.readouterr()
    other_key = Fernet.generate_key().decode()
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", other_key)

    message = refused(commands(tmp_path)[command], capsys)

    assert "OWNERSHIP_SECRET_KEY:" in message and "'bank'" in message
    assert "ownership clients reseal" in message and other_key not in message


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize(
    "clock",
    [
        {"OWNERSHIP_CLOCK_ANCHOR": "0001-01-02T00:00:00Z", "OWNERSHIP_CLOCK_SPEED": "86400"},
        {
            "OWNERSHIP_CLOCK_ANCHOR": "2026-01-01T00:00:00Z",
            "OWNERSHIP_CLOCK_START": "9999-12-31T00:00:00Z",
        },
    ],
    ids=["anchored-long-ago", "starting-at-the-end-of-time"],
)
def test_a_clock_that_would_run_past_any_date_is_one_line(
    command: str,
    clock: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for variable, value in clock.items():
        monkeypatch.setenv(variable, value)

    message = refused([command], capsys)

    assert "would run the clock past the years 1 to 9999" in message


def test_a_blank_nightly_history_setting_is_no_nightly_run() -> None:
    settings = load_settings(score_events_dir="  ")

    assert settings.score_events_dir is None


def test_a_setting_set_to_an_empty_value_means_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an environment file's blank lines
    for variable in ("THREADS", "NOTIFICATION_RETENTION_DAYS", "CLIENT_RATE_BURST"):
        monkeypatch.setenv(f"OWNERSHIP_{variable}", " ")

    settings = load_settings()

    assert settings.threads is None
    assert settings.notification_retention_days == 400
    assert settings.client_rate_burst is None


@pytest.mark.parametrize(
    "variable", ["DATABASE_URL", "SCORES_DIR", "SECRET_KEY_FILE", "MODERATION_RULES_PATH"]
)
def test_an_empty_setting_of_where_the_service_works_is_refused_not_defaulted(
    monkeypatch: pytest.MonkeyPatch, variable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # a substitution that failed must not start it on a local store or the working folder
    monkeypatch.setenv(f"OWNERSHIP_{variable}", "")

    assert main(["clients", "list"]) == 2

    assert capsys.readouterr().err.strip() == (
        f"error: bad setting: OWNERSHIP_{variable}: is empty: give it a value, or leave it "
        "unset for its default"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--port", "0"],
        ["worker"],
        # what they would seal under a new key, no process with the clients' key could open
        ["clients", "add", "shop", "--allow-ip", "127.0.0.1/32"],
        ["clients", "set-webhook", "bank", "--renew-secret"],
        ["clients", "reseal"],
        ["simulate-day", "--history", ".", "--scores", ".", "--store", "sqlite:///day.db"],
    ],
    ids=["serve", "worker", "clients add", "clients set-webhook", "clients reseal", "a day"],
)
def test_a_key_file_that_does_not_exist_beside_sealed_clients_is_named_not_made(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a mistyped path: a new key there would open none of the clients' secrets
    assert main(["clients", "add", "bank", "--allow-ip", "127.0.0.1/32"]) == 0
    capsys.readouterr()
    mistyped = tmp_path / "keys" / "secret.key"
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY_FILE", str(mistyped))

    message = refused(command, capsys)

    assert "OWNERSHIP_SECRET_KEY_FILE" in message and "does not exist" in message
    assert not mistyped.parent.exists()


def test_a_nightly_history_without_results_yet_is_taken(tmp_path: Path) -> None:
    # the nightly run makes `verifications/` itself, from the store's results
    history = tmp_path / "history"
    for kind in ("code_entries", "sms_deliveries", "registrations", "number_changes", "accounts"):
        (history / kind).mkdir(parents=True)

    assert load_settings(score_events_dir=str(history)).score_events_dir == history


def nightly_history(tmp_path: Path) -> Path:
    history = tmp_path / "history"
    for kind in ("code_entries", "sms_deliveries", "registrations", "number_changes", "accounts"):
        (history / kind).mkdir(parents=True)
    return history


def started_by_mistake(*args: object) -> None:
    """A worker that starts would run until stopped: the test fails instead."""
    raise AssertionError("the worker started")


def test_a_worker_scoring_a_history_into_a_folder_inside_it_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # every nightly run would refuse to publish where the next one reads its input
    history = nightly_history(tmp_path)
    monkeypatch.setenv("OWNERSHIP_SCORE_EVENTS_DIR", str(history))
    monkeypatch.setenv("OWNERSHIP_SCORES_DIR", str(history / "scores"))
    monkeypatch.setattr(worker, "run_worker", started_by_mistake)

    message = refused(["worker"], capsys)

    assert message.startswith("error: bad setting: OWNERSHIP_SCORES_DIR: ")
    assert f"is inside OWNERSHIP_SCORE_EVENTS_DIR {history}" in message
    assert nothing_was_done(tmp_path)


def test_a_scores_folder_inside_the_nightly_history_through_a_link_is_refused(
    tmp_path: Path,
) -> None:
    history = nightly_history(tmp_path)
    (tmp_path / "link").symlink_to(history)

    with pytest.raises(ValidationError, match="is inside OWNERSHIP_SCORE_EVENTS_DIR"):
        load_settings(score_events_dir=str(history), scores_dir=str(tmp_path / "link" / "out"))


def test_a_scores_folder_beside_the_nightly_history_is_taken(tmp_path: Path) -> None:
    history = nightly_history(tmp_path)

    settings = load_settings(score_events_dir=str(history), scores_dir=str(tmp_path / "scores"))

    assert settings.scores_dir == tmp_path / "scores"


def test_the_fastest_clock_the_settings_allow_is_taken_with_an_anchor() -> None:
    settings = load_settings(clock_speed=86_400, clock_anchor="2026-11-28T00:00:00Z")

    assert settings.clock_speed == 86_400


def test_a_key_that_opens_no_secret_of_a_store_a_release_behind_is_refused_before_upgrading_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the store as the release before the previous webhook secret left it, which `serve` and
    # `worker` check before they upgrade it
    assert main(["clients", "add", "bank", "--allow-ip", "127.0.0.1/32"]) == 0
    capsys.readouterr()
    engine = make_engine(f"sqlite:///{tmp_path / 'ownership.db'}")
    command_line.downgrade(alembic_config(engine), "0006_verification_recorded_at")
    engine.dispose()
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", Fernet.generate_key().decode())

    with pytest.raises(UsageError, match="does not open the secrets of the clients 'bank'"):
        check_start_up(load_settings())


def test_the_demo_serves_with_none_of_an_operators_nightly_run_key_or_gateways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an operator's shell: the service's nightly history, key and real gateways
    history = tmp_path / "history"
    for kind in ("code_entries", "sms_deliveries", "registrations", "number_changes", "accounts"):
        (history / kind).mkdir(parents=True)
    monkeypatch.setenv("OWNERSHIP_SCORE_EVENTS_DIR", str(history))
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("OWNERSHIP_GATEWAY_URLS", '{"sms": "https://sms-gateway.example/v1"}')
    monkeypatch.setenv("OWNERSHIP_GATEWAY_TOKENS", '{"sms": "token"}')
    monkeypatch.setenv(
        "OWNERSHIP_GATEWAY_SECRETS", '{"sms": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}'
    )
    demo = tmp_path / "demo"
    (demo / "events" / "accounts").mkdir(parents=True)  # the demo's own history, generated
    (demo / "events" / "accounts" / "part-0.csv").write_text("network,account_id\n")
    for name, value in demo_environment(
        demo / "scores", demo / "events", demo / "o.db", demo / "secret.key", *[NOW] * 2
    ).items():
        monkeypatch.setenv(name, value)

    settings = load_settings()

    assert settings.score_events_dir is None and settings.secret_key is None
    assert settings.gateway_urls == {} and settings.secret_key_file == demo / "secret.key"


def test_moderation_rules_that_reject_the_demos_template_stop_it_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    strict = tmp_path / "rules.yaml"  # an operator's rules, stricter than the template is
    strict.write_text(
        MODERATION_RULES.read_text().replace("min_fixed_letters: 5", "min_fixed_letters: 100")
    )
    monkeypatch.setenv("OWNERSHIP_MODERATION_RULES_PATH", str(strict))

    message = refused(commands(tmp_path)["demo"], capsys)

    assert f"OWNERSHIP_MODERATION_RULES_PATH: {strict} rejects the demo's template" in message
    assert nothing_was_done(tmp_path)


def test_the_demo_refuses_proxy_variables_it_cannot_use_before_it_generates_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks9://proxy.example:1080")

    message = refused(commands(tmp_path)["demo"], capsys)

    assert "proxy" in message.lower() and nothing_was_done(tmp_path)
