"""A simulated day of notifications settles every notification, bills each delivery once, and
is the same day again from the same seed."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from cryptography.fernet import Fernet
from sqlalchemy import Table, func, select

from delivery import records
from ownership.notifications import BILLABLE, NotificationStatus
from pipelines import cli
from pipelines.settings import load_settings
from pipelines.simulate_day import DayMix, DayRequest, SimulationInputError, simulate_day
from pipelines.synth import generate
from store.clients import register_client
from store.database import alembic_config, make_engine, session_factory, upgrade
from store.secrets import SecretCipher
from store.tables import ClientRow
from tests.integration.conftest import (
    DAY_NOTIFICATIONS,
    DAY_SEED,
    PHONES,
    Day,
    Demo,
    simulate,
)

CIPHER = SecretCipher([Fernet.generate_key().decode()])
CLIENTS: Table = ClientRow.__table__  # type: ignore[assignment]

pytestmark = pytest.mark.integration


def test_every_notification_of_the_day_reaches_its_outcome(day: Day) -> None:
    assert day.summary.unsettled == 0
    assert sum(day.summary.statuses.values()) == DAY_NOTIFICATIONS
    # the arrivals span a day, and the last TTL (24 h) is settled a day later at most
    assert day.summary.settled_at - day.summary.started_at <= DayMix().span * 2


def test_each_delivery_is_billed_once(day: Day) -> None:
    engine = make_engine(day.store_url)
    with engine.connect() as connection:
        billed = connection.execute(select(func.count()).select_from(records.ledger)).scalar()
    engine.dispose()
    delivered = {NotificationStatus.READ} | BILLABLE
    assert billed == sum(day.summary.statuses.get(status.value, 0) for status in delivered)


def test_the_day_takes_both_paths(day: Day) -> None:
    statuses = day.summary.statuses
    assert statuses.get("read", 0) > 0 and statuses.get("sms_delivered", 0) > 0


def test_the_day_re_verifies_by_sms_code_as_well_as_by_yes_or_no(day: Day) -> None:
    engine = make_engine(day.store_url)
    table = records.verifications
    with engine.connect() as connection:
        kept = set(connection.execute(select(table.c.method, table.c.result).distinct()).all())
    engine.dispose()
    assert ("sms_code", "confirmed") in kept and ("prompt", "confirmed") in kept
    # a code is never a denial: only the Yes/No prompt takes a No
    assert ("sms_code", "denied") not in kept


def test_the_same_seed_gives_the_same_day(demo: Demo, day: Day, tmp_path: Path) -> None:
    again = simulate(demo, tmp_path, DAY_NOTIFICATIONS, DAY_SEED)

    assert again.summary.statuses == day.summary.statuses


def test_a_mix_whose_ttl_shares_do_not_add_up_is_refused() -> None:
    with pytest.raises(SimulationInputError, match="add up to 1"):
        DayMix(ttls=())


def count_rows(store_url: str, table: Table) -> int:
    engine = make_engine(store_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(table)) or 0)
    finally:
        engine.dispose()


def migration_heads_of(store_url: str) -> tuple[str, ...]:
    engine = make_engine(store_url)
    try:
        with engine.connect() as connection:
            return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    finally:
        engine.dispose()


def test_a_store_holding_the_services_clients_is_refused_untouched(
    demo: Demo, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'day.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        register_client(session, "bank", ["203.0.113.0/24"], CIPHER)
    # a service a release behind: its store must not be migrated under it
    command.downgrade(alembic_config(engine), "0002_webhooks")  # the latest revision undone
    engine.dispose()
    before = migration_heads_of(url)

    with pytest.raises(SimulationInputError, match="holds the service's own clients \\('bank'\\)"):
        simulate(demo, tmp_path, 5, seed=1)

    assert migration_heads_of(url) == before
    assert count_rows(url, records.notifications) == 0


def test_a_second_day_into_one_store_is_refused(demo: Demo, tmp_path: Path) -> None:
    simulate(demo, tmp_path, 5, seed=1)

    with pytest.raises(SimulationInputError, match="already holds a simulated day"):
        simulate(demo, tmp_path, 5, seed=2)

    assert count_rows(f"sqlite:///{tmp_path / 'day.db'}", records.notifications) == 5


@pytest.mark.parametrize(
    ("seed", "said"),
    [("-1", "-1 is below 0"), (str(2**63), f"{2**63} is above {2**63 - 1}")],
    ids=["negative", "past the simulators' seeds"],
)
def test_a_seed_out_of_the_simulators_range_is_refused_by_the_command_line(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: str, said: str
) -> None:
    argv = ["simulate-day", "--history", str(demo.events), "--scores", str(demo.scores)]
    argv += ["--store", f"sqlite:///{tmp_path / 'day.db'}", "--seed", seed]

    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)

    assert stopped.value.code == 2
    assert f"argument --seed: {said}" in capsys.readouterr().err
    assert not (tmp_path / "day.db").exists()


@pytest.mark.parametrize(
    ("count", "said"), [("0", "0 is below 1"), ("99999999999", "99999999999 is above 1,000,000")]
)
def test_a_day_of_no_notification_or_past_the_most_is_refused_by_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], count: str, said: str
) -> None:
    argv = ["simulate-day", "--history", str(tmp_path), "--scores", str(tmp_path)]
    argv += ["--store", f"sqlite:///{tmp_path / 'day.db'}", "--notifications", count]

    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)

    assert stopped.value.code == 2
    assert f"argument --notifications: {said}" in capsys.readouterr().err


@pytest.mark.parametrize("store", ["unreachable", "no database"])
def test_a_days_store_that_cannot_be_opened_is_a_one_line_error(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str], store: str
) -> None:
    if store == "unreachable":
        url, reason = "postgresql+psycopg://day:secret@127.0.0.1:1/day", "connection failed"
    else:
        (tmp_path / "notes.txt").write_text("not a database")
        url, reason = f"sqlite:///{tmp_path / 'notes.txt'}", "file is not a database"
    argv = ["simulate-day", "--history", str(demo.events), "--scores", str(demo.scores)]

    assert cli.main([*argv, "--store", url, "--notifications", "5"]) == 2

    error = capsys.readouterr().err.strip()
    assert error.startswith("error: cannot open the store at ") and reason in error
    assert "\n" not in error and "secret" not in error


def test_scores_of_another_history_are_refused(demo: Demo, tmp_path: Path) -> None:
    # the same size, another seed: another set of numbers, none with the other's accounts
    generate(tmp_path / "other", phones=PHONES, seed=2)
    request = DayRequest(tmp_path / "other", demo.scores, f"sqlite:///{tmp_path / 'day.db'}", 5, 1)

    with pytest.raises(SimulationInputError, match="the scores are of another history"):
        simulate_day(request, load_settings(), CIPHER)
