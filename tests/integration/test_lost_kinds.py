"""A feed that loses a kind publishes nothing (DESIGN §3): a kind's own rejected share is
bounded as the run's is, and a kind the last published run had rows of must not come empty."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from pipelines.scoring import (
    KindLostError,
    RejectedShareTooHighError,
    ScoreRequest,
    ScoreRequestError,
    score,
)
from tests.factories import ANNA, AS_OF, RU_MOBILE, SCHEMAS, days_ago
from tests.integration.test_bad_input import healthy_history

NUMBERS = 40  # accounts: 40 of 520 rows, 7.7 % of the run
# a bound the whole run's share of a lost accounts feed stays under
RUN_BOUND = 0.1


def run(events: Path, out: Path, **kwargs: object) -> dict:  # type: ignore[type-arg]
    return score(ScoreRequest(events, out, as_of=AS_OF, **kwargs)).manifest  # type: ignore[arg-type]


def accounts_seen_as_a_locale_writes_dates(events: Path) -> None:
    """Rewrite the accounts as CSV whose last_seen_at is dd.mm.yyyy, as a locale's export does."""
    folder = events / "accounts"
    rows = pq.read_table(folder / "part-0.parquet").to_pylist()
    (folder / "part-0.parquet").unlink()
    lines = [
        f"{row['network']},{row['account_id']},{row['phone']},"
        f"{row['last_seen_at']:%d.%m.%Y},{str(row['mobile_app']).lower()}"
        for row in rows
    ]
    (folder / "accounts.csv").write_text(
        "network,account_id,phone,last_seen_at,mobile_app\n" + "\n".join(lines) + "\n",
        encoding="utf-8",
    )


def published_once(tmp_path: Path) -> tuple[Path, Path]:
    """A healthy history and the folder its first run published into."""
    events, out = healthy_history(NUMBERS).write(tmp_path / "events"), tmp_path / "out"
    run(events, out)
    return events, out


def emptied(events: Path, kind: str) -> None:
    """The kind's export came out with its header only."""
    pq.write_table(SCHEMAS[kind].empty_table(), events / kind / "part-0.parquet")


def test_a_kind_whose_rows_are_all_rejected_publishes_nothing_though_the_run_is_within_bound(
    tmp_path: Path,
) -> None:
    events = healthy_history(NUMBERS).write(tmp_path / "events")
    accounts_seen_as_a_locale_writes_dates(events)

    with pytest.raises(RejectedShareTooHighError) as refused:
        run(events, tmp_path / "out", max_reject_share=RUN_BOUND)

    assert str(refused.value).startswith(
        "40 of 40 rows of accounts (100.00%) broke their contract, more than the bound of 10% "
        "of a kind's rows (of the run's, 7.69%); nothing was published. Most in accounts are "
        "40 × 'last_seen_at is not a time'"
    )
    assert not (tmp_path / "out" / "scores.parquet").exists()
    summary = json.loads((tmp_path / "out" / "rejects" / "summary.json").read_text())
    assert summary["published"] is False
    assert summary["inputs"]["accounts"]["rejected"] == NUMBERS


def test_each_kind_past_the_bound_is_named_with_its_share(tmp_path: Path) -> None:
    history = healthy_history(NUMBERS)
    for _ in range(5):
        history.code("not a phone", days_ago(3)).code("+00123", days_ago(3))  # 10 of 50
    for _ in range(9):
        history.register("garbage", days_ago(3), ANNA, with_code=False)  # 9 of 49
    events = history.write(tmp_path / "events")

    with pytest.raises(RejectedShareTooHighError) as refused:
        run(events, tmp_path / "out", max_reject_share=0.04)

    assert str(refused.value).startswith(
        "10 of 50 rows of code_entries (20.00%) broke their contract, more than the bound of 4% "
        "of a kind's rows"
    )
    # 18 % of a kind, but 9 rows: a small kind is not refused for a few bad rows
    assert "registrations" not in str(refused.value)


def test_a_small_kind_with_one_bad_row_is_published(tmp_path: Path) -> None:
    history = healthy_history(NUMBERS)
    history.register("garbage", days_ago(3), ANNA, with_code=False)  # 1 of 41 registrations

    manifest = run(history.write(tmp_path / "events"), tmp_path / "out")

    assert manifest["inputs"]["registrations"]["rejected"] == 1


def test_another_history_scored_into_the_folder_is_not_a_feed_that_lost_a_kind(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    run(healthy_history(NUMBERS).write(tmp_path / "events"), out)
    other = healthy_history(NUMBERS).write(tmp_path / "other")
    emptied(other, "accounts")

    assert run(other, out)["inputs"]["accounts"]["rows"] == 0


def test_a_share_is_told_to_two_places(tmp_path: Path) -> None:
    history = healthy_history(3)  # 39 rows
    for _ in range(10):
        history.sms("garbage", days_ago(1))
    events = history.write(tmp_path / "events")

    with pytest.raises(RejectedShareTooHighError, match=r"^10 of 49 rows \(20\.41%\) broke"):
        run(events, tmp_path / "out")


def test_a_kind_emptied_since_the_last_published_run_publishes_nothing(tmp_path: Path) -> None:
    events, out = published_once(tmp_path)
    served = (out / "snapshot.bin").read_bytes()
    last = json.loads((out / "manifest.json").read_text())
    emptied(events, "accounts")

    with pytest.raises(KindLostError) as refused:
        run(events, out)

    assert str(refused.value) == (
        "kind accounts has no row this run; the last published run had 40: a feed that lost a "
        "kind would change every answer; nothing was published. If it is meant, score once "
        "with --allow-empty-kind accounts"
    )
    assert (out / "snapshot.bin").read_bytes() == served
    assert json.loads((out / "manifest.json").read_text()) == last
    summary = json.loads((out / "rejects" / "summary.json").read_text())
    assert summary["published"] is False
    assert summary["inputs"]["accounts"]["rows"] == 0


def test_a_kind_emptied_on_purpose_is_published_once_allowed_and_then_stays_empty(
    tmp_path: Path,
) -> None:
    events, out = published_once(tmp_path)
    emptied(events, "accounts")

    allowed = run(events, out, allowed_empty_kinds=frozenset({"accounts"}))
    again = run(events, out)

    assert allowed["inputs"]["accounts"]["rows"] == 0
    assert allowed["settings"]["allowed_empty_kinds"] == ["accounts"]
    assert again["inputs"]["accounts"]["rows"] == 0


def test_a_kind_whose_rows_are_all_rejected_is_lost_too_when_the_bound_lets_them_through(
    tmp_path: Path,
) -> None:
    events, out = published_once(tmp_path)
    accounts_seen_as_a_locale_writes_dates(events)

    with pytest.raises(KindLostError, match=r"^kind accounts has no usable row \(its 40 rejected"):
        run(events, out, max_reject_share=1.0)


def test_a_kind_rejected_past_the_bound_is_told_once_as_rejected_not_as_lost_too(
    tmp_path: Path,
) -> None:
    events, out = published_once(tmp_path)
    accounts_seen_as_a_locale_writes_dates(events)

    with pytest.raises(RejectedShareTooHighError) as refused:
        run(events, out, max_reject_share=RUN_BOUND)

    assert "--allow-empty-kind" not in str(refused.value)  # it would not let them through


def test_a_kind_lost_beside_too_many_rejects_elsewhere_is_told_in_the_same_line(
    tmp_path: Path,
) -> None:
    history = healthy_history(NUMBERS)
    events = history.write(tmp_path / "events")
    out = tmp_path / "out"
    run(events, out)
    for _ in range(100):
        history.sms("garbage", days_ago(1))
    history.write(events)
    emptied(events, "accounts")

    with pytest.raises(RejectedShareTooHighError) as refused:
        run(events, out)

    message = str(refused.value)
    assert message.startswith("100 of 580 rows (17.24%) broke their contract")
    assert "rejects/. Also, kind accounts has no row this run; the last published run" in message
    assert "\n" not in message


def test_a_past_day_rescored_has_no_lost_kind_in_the_rows_that_came_later(
    tmp_path: Path,
) -> None:
    history = healthy_history(NUMBERS)
    history.verification("+79230000001", days_ago(10), "confirmed")
    events = history.write(tmp_path / "events")
    out = tmp_path / "out"
    run(events, out)

    earlier = score(ScoreRequest(events, out, as_of=days_ago(20))).manifest

    assert earlier["inputs"]["verifications"]["after_as_of"] == 1


def test_a_first_run_or_a_kind_never_published_may_be_empty(tmp_path: Path) -> None:
    events = healthy_history(NUMBERS).write(tmp_path / "events")  # no verification at all
    emptied(events, "number_changes")

    first = run(events, tmp_path / "out")
    second = run(events, tmp_path / "out")

    assert first["inputs"]["verifications"]["rows"] == 0
    assert second["inputs"]["number_changes"]["rows"] == 0


def test_a_history_left_with_nothing_is_told_so_rather_than_a_kind_lost(tmp_path: Path) -> None:
    events, out = published_once(tmp_path)
    for kind in SCHEMAS:
        emptied(events, kind)

    with pytest.raises(ScoreRequestError, match="no event to score"):
        run(events, out)


def test_a_manifest_of_a_release_that_counted_no_inputs_guards_nothing(tmp_path: Path) -> None:
    events = healthy_history(NUMBERS).write(tmp_path / "events")
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text('{"as_of": "2026-05-01T00:00:00Z"}', encoding="utf-8")
    emptied(events, "accounts")

    assert run(events, out)["inputs"]["accounts"]["rows"] == 0


# --- the command line ------------------------------------------------------------------------


def test_score_refuses_a_lost_kind_in_one_line_and_takes_it_when_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = healthy_history(NUMBERS).write(tmp_path / "events")
    out = tmp_path / "out"
    argv = ["score", "--events", str(events), "--out", str(out), "--as-of", "2026-06-01"]
    assert main(argv) == 0
    emptied(events, "accounts")
    capsys.readouterr()

    assert main(argv) == 2
    refused = capsys.readouterr().err.strip()
    assert main([*argv, "--allow-empty-kind", "accounts"]) == 0
    assert main(argv) == 0

    assert refused.startswith("error: kind accounts has no row this run;")
    assert "\n" not in refused


def test_score_refuses_a_kind_the_history_has_not(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--events", "e", "--out", "o", "--allow-empty-kind", "account"])

    assert "'account' is no kind of the history (code_entries," in capsys.readouterr().err


def test_a_small_kind_rejected_whole_is_refused_as_rejected_not_as_lost_too(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    events = healthy_history(9).write(tmp_path / "events")
    run(events, out)
    accounts_seen_as_a_locale_writes_dates(events)  # 9 of 9 accounts rows rejected

    with pytest.raises(RejectedShareTooHighError) as refused:
        run(events, out)

    assert str(refused.value).startswith("9 of 117 rows (7.69%) broke their contract")
    assert "--allow-empty-kind" not in str(refused.value)  # it would not let them through


def test_a_link_repointed_at_each_days_export_is_one_feed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    monday = healthy_history(NUMBERS).write(tmp_path / "exports" / "monday")
    tuesday = healthy_history(NUMBERS).write(tmp_path / "exports" / "tuesday")
    emptied(tuesday, "accounts")
    current = tmp_path / "current"
    current.symlink_to(monday)
    run(current, out)
    current.unlink()
    current.symlink_to(tuesday)

    with pytest.raises(KindLostError, match="kind accounts has no row this run"):
        run(current, out)


def test_a_small_kind_rejected_whole_is_refused_on_a_first_run_too(tmp_path: Path) -> None:
    events = healthy_history(9).write(tmp_path / "events")
    accounts_seen_as_a_locale_writes_dates(events)  # 9 of 9 accounts rows rejected

    with pytest.raises(RejectedShareTooHighError, match=r"^9 of 9 rows of accounts \(100\.00%\)"):
        run(events, tmp_path / "out", max_reject_share=RUN_BOUND)


def test_one_bad_row_of_a_kind_of_two_is_not_a_broken_feed(tmp_path: Path) -> None:
    history = healthy_history(NUMBERS)
    history.number_change(RU_MOBILE, days_ago(3)).number_change("garbage", days_ago(3))  # 1 of 2

    manifest = run(history.write(tmp_path / "events"), tmp_path / "out")

    assert manifest["inputs"]["number_changes"]["rejected"] == 1


def test_a_kind_of_one_row_rejected_is_refused_on_a_first_run(tmp_path: Path) -> None:
    events = healthy_history(1).write(tmp_path / "events")
    accounts_seen_as_a_locale_writes_dates(events)  # its one accounts row rejected

    with pytest.raises(RejectedShareTooHighError, match=r"1 of 1 rows of accounts \(100\.00%\)"):
        run(events, tmp_path / "out", max_reject_share=RUN_BOUND)
