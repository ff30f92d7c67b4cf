"""Stores migrated by builds whose revisions were changed later under the same id (QA D2) are
mended on upgrade, on SQLite and PostgreSQL, to the schema this release's revisions make: each
store is made at the revisions before the mends and altered by hand to the shape such a build
left, then started as a process starts it. And a store still lacking a column the code reads
is refused at the start, in one line naming it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from sqlalchemy import Boolean, Engine, String, column, insert, inspect, table, text

from delivery.webhooks.endpoints import EndpointWait, endpoint_waits, remember_wait, url_digest
from pipelines.cli import main
from store.database import StoreLacksColumnsError, make_engine, upgrade
from store.schema import metadata
from store.tables import UtcDateTime
from store.tables_notifications import VerificationCodeRow
from tests.conftest import DATABASES, fresh_database
from tests.delivery.webhook_helpers import notification_calling_back
from tests.store.migrated_store import A_CLIENT, store_at

# the branches' last revisions before the mends (0019, 0020)
NOTIFICATIONS_BEFORE_MENDS = "0018_code_sms_by_number"
OTHER_BRANCHES = ("0008_webhook_endpoint_waits", "0002_templates")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ASKED_URL, UNREACHED_URL = "https://bank.example/asked", "https://bank.example/down"
# a salt sealed with the store's key, as kept now: longer than 0014's first varchar(64)
SEALED_SALT = "gAAAAA" + "x" * 114


@contextmanager
def store_before_the_mends(
    kind: str, folder: Path, notifications_at: str = NOTIFICATIONS_BEFORE_MENDS
) -> Iterator[tuple[Engine, str]]:
    """A store at each branch's revision before the mends (the notifications' at
    `notifications_at`), and its URL."""
    with store_at(kind, folder, notifications_at) as (engine, config):
        for revision in OTHER_BRANCHES:
            command.upgrade(config, revision)
        yield engine, engine.url.render_as_string(hide_password=False)


def differences_from_the_code(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def columns(engine: Engine, of: str) -> set[str]:
    return {str(found["name"]) for found in inspect(engine).get_columns(of)}


# webhook_endpoint_waits as 0008 made it at 4a60206 (2026-11-28): a flag, `asked`
WAITS_WITH_A_FLAG = table(
    "webhook_endpoint_waits",
    column("client_key", String()),
    column("url_digest", String()),
    column("url", String()),
    column("until", UtcDateTime()),
    column("asked", Boolean()),
    column("reason", String()),
)


@pytest.mark.parametrize("kind", DATABASES)
def test_waits_kept_with_a_flag_by_0008_at_4a60206_get_asked_until_and_dispatch_reads_them(
    kind: str, tmp_path: Path
) -> None:
    with store_before_the_mends(kind, tmp_path) as (engine, url):
        with engine.begin() as connection:
            connection.execute(text(A_CLIENT))
            connection.execute(text("alter table webhook_endpoint_waits drop column asked_until"))
            connection.execute(
                text(
                    "alter table webhook_endpoint_waits "
                    "add column asked boolean not null default false"
                )
            )
            for endpoint, asked in ((ASKED_URL, True), (UNREACHED_URL, False)):
                connection.execute(
                    insert(WAITS_WITH_A_FLAG).values(
                        client_key="BankKey",
                        url_digest=url_digest(endpoint),
                        url=endpoint,
                        until=NOW + timedelta(hours=1),
                        asked=asked,
                        reason="503",
                    )
                )

        upgrade(url)

        assert differences_from_the_code(engine) == []
        with engine.begin() as connection:
            endpoints = [("BankKey", ASKED_URL), ("BankKey", UNREACHED_URL)]
            waits = endpoint_waits(connection, endpoints, now=NOW)
            # a new wait is kept, the flag no longer required
            later = EndpointWait(NOW + timedelta(hours=2), None, "timed out")
            remember_wait(connection, client_key="BankKey", url=UNREACHED_URL, wait=later)
            after = endpoint_waits(connection, endpoints, now=NOW)
    assert waits[("BankKey", ASKED_URL)].asked_until == NOW + timedelta(hours=1)
    assert waits[("BankKey", UNREACHED_URL)].asked_until is None
    assert after[("BankKey", UNREACHED_URL)].until == NOW + timedelta(hours=2)


def test_a_salt_kept_as_varchar_64_by_0014_at_4bba0e4_is_widened_and_takes_a_sealed_salt(
    tmp_path: Path,
) -> None:
    # PostgreSQL only: SQLite keeps any length in a VARCHAR
    with store_before_the_mends("postgresql", tmp_path) as (engine, url):
        with engine.begin() as connection:
            connection.execute(text(A_CLIENT))
            connection.execute(
                text("alter table verification_codes alter column salt type varchar(64)")
            )
        notification_calling_back(engine, "BankKey", "https://bank.example/hooks")

        upgrade(url)

        assert differences_from_the_code(engine) == []
        with engine.begin() as connection:  # a code row, as `issue_code` writes it
            connection.execute(
                insert(VerificationCodeRow).values(
                    notification_id="ntf_1",
                    salt=SEALED_SALT,
                    digest="0" * 64,
                    issued=1,
                    issued_at=NOW,
                    attempts=0,
                    entered=[],
                )
            )
            kept = connection.execute(text("select salt from verification_codes")).scalar_one()
    assert kept == SEALED_SALT


@pytest.mark.parametrize("kind", DATABASES)
def test_a_store_whose_0016_at_be34961_lacked_sms_valid_until_is_upgraded_with_it(
    kind: str, tmp_path: Path
) -> None:
    at_0016 = "0016_notification_sms_validity"
    with store_before_the_mends(kind, tmp_path, notifications_at=at_0016) as (engine, url):
        with engine.begin() as connection:
            connection.execute(text(A_CLIENT))
            connection.execute(text("alter table notifications drop column sms_valid_until"))
        notification_calling_back(engine, "BankKey", "https://bank.example/hooks")

        upgrade(url)  # 0017 indexed the column 0016 had not made: "no such column"

        assert differences_from_the_code(engine) == []
        assert "sms_valid_until" in columns(engine, "notifications")
        indexes = {index["name"] for index in inspect(engine).get_indexes("notifications")}
        with engine.connect() as connection:
            kept = connection.execute(text("select sms_valid_until from notifications")).all()
    assert "ix_notifications_sms_report_due" in indexes
    assert kept == [(None,)]


@pytest.mark.parametrize("kind", DATABASES)
def test_a_store_whose_0004_at_cb74a97_made_the_unique_answer_index_is_upgraded(
    kind: str, tmp_path: Path
) -> None:
    with store_before_the_mends(kind, tmp_path, notifications_at="0003_overlay_recorded_at") as (
        engine,
        url,
    ):
        with engine.begin() as connection:  # 0004 as cb74a97 had it: what 0005 does now
            connection.execute(
                text(
                    "create unique index uq_verifications_one_answer on verifications "
                    "(notification_id) where result in ('confirmed', 'denied')"
                )
            )
            connection.execute(
                text(
                    "update alembic_version set version_num = '0004_verification_lookup' "
                    "where version_num = '0003_overlay_recorded_at'"
                )
            )

        upgrade(url)  # 0005 dropped an index that was not there: "no such index"

        assert differences_from_the_code(engine) == []


@pytest.mark.parametrize("kind", DATABASES)
def test_a_store_lacking_what_the_code_reads_is_refused_in_one_line_naming_it(
    kind: str, tmp_path: Path
) -> None:
    with fresh_database(kind, tmp_path) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(text("drop table verification_codes"))
                connection.execute(text("alter table webhook_endpoint_waits drop column url"))
        finally:
            engine.dispose()

        with pytest.raises(StoreLacksColumnsError) as refused:
            upgrade(url)

    assert refused.value.missing == ["verification_codes", "webhook_endpoint_waits.url"]
    message = str(refused.value)
    assert "\n" not in message
    assert "verification_codes, webhook_endpoint_waits.url" in message
    assert "restore a backup" in message


def test_a_command_on_a_store_lacking_a_column_says_so_in_one_line_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ownership.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("alter table webhook_endpoint_waits drop column asked_until"))
    finally:
        engine.dispose()
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", url)
    monkeypatch.setenv("OWNERSHIP_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("OWNERSHIP_SCORES_DIR", str(tmp_path / "scores"))

    assert main(["clients", "list"]) == 2

    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "lacks" in errors[0] and "webhook_endpoint_waits.asked_until" in errors[0]
