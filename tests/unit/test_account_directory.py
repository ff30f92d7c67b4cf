"""The simulator's accounts, read from a history's `accounts/` folder (DESIGN §3)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from delivery.channels.accounts import Account, AccountDirectory
from ownership.channels import Channel
from tests.factories import AS_OF, RU_MOBILE, History, days_ago


def test_accounts_are_read_from_a_history(tmp_path: Path) -> None:
    history = History().account(RU_MOBILE, "vk-1", last_seen=days_ago(2), mobile_app=True)
    history.account(RU_MOBILE, "ok-7", last_seen=days_ago(20), mobile_app=False)
    directory = AccountDirectory.read_history(history.write(tmp_path / "events"))
    assert len(directory) == 2
    assert directory.bound(Channel.VK, RU_MOBILE) == (
        Account(Channel.VK, "vk-1", RU_MOBILE, days_ago(2).replace(tzinfo=UTC), True),
    )
    (ok,) = directory.bound(Channel.OK, RU_MOBILE)
    assert ok.last_seen_at == datetime(2026, 5, 12, tzinfo=UTC) and not ok.mobile_app
    assert directory.bound(Channel.VK, "+79990000000") == ()


def test_accounts_are_read_from_csv_too(tmp_path: Path) -> None:
    folder = tmp_path / "accounts"
    folder.mkdir()
    (folder / "part-0.csv").write_text(
        "network,account_id,phone,last_seen_at,mobile_app\n"
        f"vk,vk-1,{RU_MOBILE},2026-05-30 10:00:00,true\n",
        encoding="utf-8",
    )
    (account,) = AccountDirectory.read_history(tmp_path).bound(Channel.VK, RU_MOBILE)
    assert account.phone == RU_MOBILE and account.mobile_app
    assert account.last_seen_at == datetime(2026, 5, 30, 10, tzinfo=UTC)
    assert account.active_at(AS_OF.replace(tzinfo=UTC), activity=timedelta(days=7))
    assert not account.active_at(AS_OF.replace(tzinfo=UTC), activity=timedelta(days=1))


def test_a_history_without_accounts_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="accounts"):
        AccountDirectory.read_history(tmp_path)


def test_accounts_are_read_from_the_files_a_scoring_run_reads(tmp_path: Path) -> None:
    """Names in any case and gzip CSV, as the batch reads them; hidden files and markers not."""
    folder = tmp_path / "accounts"
    folder.mkdir()
    with gzip.open(folder / "PART-0.CSV.GZ", "wt", encoding="utf-8") as file:
        file.write(
            "network,account_id,phone,last_seen_at,mobile_app\n"
            f"vk,vk-1,{RU_MOBILE},2026-05-30 10:00:00,true\n"
        )
    (folder / "._PART-0.CSV.GZ").write_bytes(b"\x00\x05\x16\x07Mac OS X")
    (folder / "_SUCCESS").write_bytes(b"")

    (account,) = AccountDirectory.read_history(tmp_path).bound(Channel.VK, RU_MOBILE)

    assert account.account_id == "vk-1"


def test_an_accounts_phone_is_read_as_the_scores_write_it(tmp_path: Path) -> None:
    # the scores hold E.164, mended by the batch as here; garbage is left out, as it rejects it
    folder = tmp_path / "accounts"
    folder.mkdir()
    (folder / "part-0.csv").write_text(
        "network,account_id,phone,last_seen_at,mobile_app\n"
        "vk,vk-1,+7 (923) 456-78-23,2026-05-30 10:00:00,true\n"
        "vk,vk-de,+490301234567,2026-05-30 10:00:00,true\n"  # the national prefix written in
        "ok,ok-1,not a phone,2026-05-30 10:00:00,false\n",
        encoding="utf-8",
    )
    directory = AccountDirectory.read_history(tmp_path)

    (account,) = directory.bound(Channel.VK, RU_MOBILE)
    assert account.phone == RU_MOBILE
    assert [found.account_id for found in directory.bound(Channel.VK, "+49301234567")] == ["vk-de"]
    assert len(directory) == 2


@pytest.mark.parametrize(("region", "found"), [("RU", 1), (None, 0)])
def test_a_phone_without_its_country_code_is_read_in_the_scoring_runs_region(
    region: str | None, found: int, tmp_path: Path
) -> None:
    folder = tmp_path / "accounts"
    folder.mkdir()
    (folder / "part-0.csv").write_text(
        "network,account_id,phone,last_seen_at,mobile_app\n"
        "vk,vk-1,8 (923) 456-78-23,2026-05-30 10:00:00,true\n",
        encoding="utf-8",
    )

    directory = AccountDirectory.read_history(tmp_path, region)

    assert len(directory.bound(Channel.VK, RU_MOBILE)) == found
