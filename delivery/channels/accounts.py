"""The social accounts a simulator knows: the `accounts` input of DESIGN §3."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ownership.channels import Channel
from ownership.numbers import InvalidNumberError, parse_number
from pipelines.paths import input_files, input_format

COLUMNS = ("network", "account_id", "phone", "last_seen_at", "mobile_app")


@dataclass(frozen=True)
class Account:
    network: Channel
    account_id: str
    # E.164
    phone: str
    # aware UTC; None when the network never said
    last_seen_at: datetime | None
    mobile_app: bool = False

    def active_at(self, moment: datetime, activity: timedelta) -> bool:
        """Seen within `activity` before `moment` (DESIGN §4's A)."""
        return self.last_seen_at is not None and self.last_seen_at >= moment - activity


class AccountDirectory:
    """Which accounts of which network are bound to each number."""

    def __init__(self, accounts: Iterable[Account] = ()) -> None:
        self._by_phone: dict[tuple[Channel, str], list[Account]] = defaultdict(list)
        for account in accounts:
            self.add(account)

    def add(self, account: Account) -> None:
        self._by_phone[(account.network, account.phone)].append(account)

    def bound(self, network: Channel, phone: str) -> tuple[Account, ...]:
        return tuple(self._by_phone.get((network, phone), ()))

    def __len__(self) -> int:
        return sum(len(accounts) for accounts in self._by_phone.values())

    @classmethod
    def read_history(cls, history: Path, default_region: str | None = None) -> AccountDirectory:
        """Read `history/accounts/*.parquet` (or `*.csv`); naive times are UTC (DESIGN §3).
        `default_region`: as the scoring run's (OWNERSHIP_DEFAULT_REGION), the country of the
        phones written without a country code."""
        folder = history / "accounts"
        files = input_files(folder)  # as a scoring run reads them
        if not files:
            raise FileNotFoundError(f"{folder} has no *.parquet or *.csv files")
        directory = cls()
        read: dict[str, str | None] = {}  # a number's accounts share its text: read it once
        for path in files:
            parquet = input_format(path) == "parquet"
            table = pq.read_table(path) if parquet else _read_csv(path)
            for row in table.select(list(COLUMNS)).to_pylist():
                text = str(row["phone"])
                if text not in read:
                    read[text] = _e164(text, default_region)
                phone = read[text]
                if phone is None:
                    continue  # no number: a scoring run rejects the row too
                directory.add(
                    Account(
                        network=Channel(row["network"]),
                        account_id=str(row["account_id"]),
                        phone=phone,
                        last_seen_at=_utc(row["last_seen_at"]),
                        mobile_app=bool(row["mobile_app"]),
                    )
                )
        return directory


def _e164(text: str, default_region: str | None) -> str | None:
    """A phone as the scores write it: `+1 212-393-9074` is `+12123939074`, and
    `+490301234567`, the national prefix written in, `+49301234567`, as a scoring run reads
    them, so that the numbers scored find their accounts (about 13 µs a phone)."""
    try:
        return parse_number(text, default_region).e164
    except InvalidNumberError:
        return None


def _read_csv(path: Path) -> pa.Table:
    types = {
        "network": pa.string(),
        "account_id": pa.string(),
        "phone": pa.string(),
        "last_seen_at": pa.timestamp("us"),
        "mobile_app": pa.bool_(),
    }
    # by the name in any case, as the batch reads it (`PART-0.CSV.GZ`); pyarrow's own guess
    # from the extension minds the case
    compression = "gzip" if path.name.lower().endswith(".gz") else None
    with pa.input_stream(path, compression=compression) as stream:
        return pa_csv.read_csv(stream, convert_options=pa_csv.ConvertOptions(column_types=types))


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
