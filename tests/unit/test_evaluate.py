"""The evaluation of scores against a synthetic truth, on hand-made files of a few numbers."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.evaluate import EvaluationInputError, evaluate, roc_auc, roc_curve, roc_points

# Named numbers; the comments say what the truth holds for each.
RECYCLED_CAUGHT = "+79230000001"  # changed, with evidence; called owner_changed
RECYCLED_SILENT = "+79230000002"  # changed, no evidence; called suspicious
RECYCLED_UNSCORED = "+79230000003"  # changed, with evidence; absent from the scores
KEPT_VERIFIED = "+79230000004"  # unchanged; verified
KEPT_FALSE_ALARM = "+79230000005"  # unchanged; wrongly called owner_changed
KEPT_QUIET = "+79230000006"  # unchanged; verified
NOT_IN_TRUTH = "+79230000007"  # scored, but the truth does not know it
TRUTH_END = datetime(2026, 11, 1)  # the generated history's end, when the truth holds


def write_truth(
    folder: Path,
    rows: list[tuple[str, bool, bool]],
    meta: bool = True,
    holders_since: dict[str, datetime] | None = None,
) -> Path:
    """`holders_since`: when the current holder took each number; the rest are out of service."""
    folder.mkdir(parents=True, exist_ok=True)
    phones, changed, evidence = zip(*rows, strict=True)
    since = [(holders_since or {}).get(phone) for phone in phones]
    pq.write_table(
        pa.table(
            {
                "phone": list(phones),
                "owner_changed": list(changed),
                "evidence": list(evidence),
                "current_holder_since": pa.array(since, pa.timestamp("us")),
            }
        ),
        folder / "labels.parquet",
    )
    if meta:
        (folder / "meta.json").write_text(
            json.dumps(
                {
                    "seed": 3,
                    "phones": len(rows),
                    "start": "2023-11-01T00:00:00",
                    "end": TRUTH_END.isoformat(),
                    "params": {},
                }
            )
        )
    return folder


def write_scores(
    folder: Path,
    rows: list[tuple[str, str, int]],
    drop: str | None = None,
    as_of: datetime = TRUTH_END,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    phones, statuses, risks = zip(*rows, strict=True)
    table = pa.table(
        {
            "phone": list(phones),
            "status": list(statuses),
            "risk_score": pa.array(risks, pa.int16()),
            "reasons": [["RECENT_CODE_ENTRY"]] * len(rows),
            "as_of": pa.array([as_of] * len(rows), pa.timestamp("us")),
        }
    )
    if drop:
        table = table.drop_columns([drop])
    pq.write_table(table, folder / "scores.parquet")
    return folder


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[Path, Path]:
    truth = write_truth(
        tmp_path / "truth",
        [
            (RECYCLED_CAUGHT, True, True),
            (RECYCLED_SILENT, True, False),
            (RECYCLED_UNSCORED, True, True),
            (KEPT_VERIFIED, False, False),
            (KEPT_FALSE_ALARM, False, False),
            (KEPT_QUIET, False, False),
        ],
        # RECYCLED_SILENT's holder left and no one has the number yet
        holders_since=dict.fromkeys(
            [RECYCLED_CAUGHT, RECYCLED_UNSCORED, KEPT_VERIFIED, KEPT_FALSE_ALARM, KEPT_QUIET],
            datetime(2026, 1, 1),
        ),
    )
    scores = write_scores(
        tmp_path / "scores",
        [
            (RECYCLED_CAUGHT, "owner_changed", 900),
            (RECYCLED_SILENT, "suspicious", 400),
            (KEPT_VERIFIED, "verified", 100),
            (KEPT_FALSE_ALARM, "owner_changed", 800),
            (KEPT_QUIET, "verified", 50),
            (NOT_IN_TRUTH, "verified", 10),
        ],
    )
    return scores, truth


def test_the_confusion_matrix_counts_each_number_once(mixed: tuple[Path, Path]) -> None:
    result = evaluate(*mixed)
    assert result.confusion == {
        "verified": {"changed": 0, "unchanged": 2},
        "suspicious": {"changed": 1, "unchanged": 0},
        "owner_changed": {"changed": 1, "unchanged": 1},
        "unknown": {"changed": 1, "unchanged": 0},
    }
    assert (result.phones, result.changed, result.unchanged) == (6, 3, 3)


def test_verified_is_measured_against_the_numbers_that_kept_their_owner(
    mixed: tuple[Path, Path],
) -> None:
    result = evaluate(*mixed)
    assert result.verified_precision == 1.0  # both verified numbers kept their owner
    assert result.verified_recall == pytest.approx(2 / 3)  # the false alarm was not verified


def test_recall_is_told_apart_for_numbers_with_a_new_holder_and_those_out_of_service(
    mixed: tuple[Path, Path],
) -> None:
    result = evaluate(*mixed)
    assert result.recall_new_holder == pytest.approx(1 / 2)  # caught; the unscored one missed
    assert result.recall_out_of_service == 0.0  # the silent one, called suspicious


def test_scores_of_another_history_are_flagged(mixed: tuple[Path, Path]) -> None:
    scores, truth = mixed
    meta = json.loads((truth / "meta.json").read_text())
    (truth / "meta.json").write_text(json.dumps({**meta, "rows": {"code_entries": 120}}))
    manifest = {"inputs": {"code_entries": {"rows": 95}}}
    (scores / "manifest.json").write_text(json.dumps(manifest))

    assert evaluate(scores, truth).warnings == (
        "the scores were made from a history with 95 rows of code_entries, the truth's history "
        "has 120: if they are different histories, these figures mean nothing",
    )

    manifest["inputs"]["code_entries"]["rows"] = 120
    (scores / "manifest.json").write_text(json.dumps(manifest))
    assert evaluate(scores, truth).warnings == ()


def test_a_number_missing_from_the_scores_counts_as_unknown(mixed: tuple[Path, Path]) -> None:
    result = evaluate(*mixed)
    assert result.missing_from_scores == 1
    assert result.extra_in_scores == 1


def test_precision_recall_and_false_alarms(mixed: tuple[Path, Path]) -> None:
    result = evaluate(*mixed)
    assert result.precision == pytest.approx(1 / 2)
    assert result.recall == pytest.approx(1 / 3)
    assert result.recall_with_evidence == pytest.approx(1 / 2)
    assert result.false_alarm_rate == pytest.approx(1 / 3)
    assert result.changed_without_evidence == 1
    assert result.changed_without_evidence_share == pytest.approx(1 / 3)


def test_auc_counts_the_pairs_ranked_right(mixed: tuple[Path, Path]) -> None:
    # Changed: 900, 400, 500 (the unscored one, at unknown's 500); unchanged: 100, 800, 50.
    # Of the nine pairs, 900 beats all three, 400 and 500 beat two each: 7 of 9.
    assert evaluate(*mixed).roc_auc == pytest.approx(7 / 9)


def test_the_report_and_the_dict(mixed: tuple[Path, Path]) -> None:
    result = evaluate(*mixed)
    text = result.render()
    assert "owner_changed" in text and "ROC AUC" in text and "seed 3" in text
    row = next(line for line in text.splitlines() if line.startswith("verified"))
    assert row.split() == ["verified", "0", "2", "2", "0.0", "%"]
    document = json.loads(json.dumps(result.to_dict()))
    assert document["confusion"]["unknown"] == {"changed": 1, "unchanged": 0}
    assert document["roc_auc"] == pytest.approx(7 / 9)


def test_auc_of_a_perfect_ranking_is_one() -> None:
    assert roc_auc(np.array([10.0, 20, 900, 950]), np.array([False, False, True, True])) == 1.0


def test_auc_of_a_reversed_ranking_is_zero() -> None:
    assert roc_auc(np.array([900.0, 950, 10, 20]), np.array([False, False, True, True])) == 0.0


def test_auc_of_all_ties_is_one_half() -> None:
    assert roc_auc(np.full(5, 500.0), np.array([True, False, True, False, False])) == 0.5


def test_auc_counts_a_tie_between_classes_as_half_a_pair() -> None:
    # Pairs (positive, negative): (700, 100) right, (700, 700) half: 1.5 of 2.
    assert roc_auc(np.array([700.0, 100, 700]), np.array([True, False, False])) == 0.75


def test_auc_is_undefined_with_one_class() -> None:
    assert roc_auc(np.array([1.0, 2.0]), np.array([True, True])) is None


def test_measures_without_their_cases_are_none(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "truth", [(KEPT_QUIET, False, False)], meta=False)
    scores = write_scores(tmp_path / "scores", [(KEPT_QUIET, "verified", 20)])
    result = evaluate(scores, truth)
    assert (result.precision, result.recall, result.roc_auc) == (None, None, None)
    assert result.false_alarm_rate == 0.0
    assert "n/a" in result.render()


def test_a_missing_scores_file_is_a_clear_error(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "truth", [(KEPT_QUIET, False, False)])
    with pytest.raises(EvaluationInputError, match=r"scores\.parquet: file not found"):
        evaluate(tmp_path / "nowhere", truth)


def test_a_folder_without_a_truth_is_a_clear_error(tmp_path: Path) -> None:
    # a history of real events has no truth: the message names the folder given, not a file
    scores = write_scores(tmp_path / "scores", [(KEPT_QUIET, "verified", 20)])
    history = tmp_path / "history"
    (history / "code_entries").mkdir(parents=True)
    for given in (tmp_path / "nowhere", history):
        with pytest.raises(EvaluationInputError, match=f"^{given} holds no truth"):
            evaluate(scores, given)


def test_a_truth_given_as_a_file_that_is_no_labels_file_is_named_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scores = write_scores(tmp_path / "scores", [(KEPT_QUIET, "verified", 20)])
    (tmp_path / "notes.txt").write_text("not the truth")
    monkeypatch.chdir(tmp_path)

    with pytest.raises(EvaluationInputError, match=r"^notes\.txt: not a readable Parquet file"):
        evaluate(scores, Path("notes.txt"))


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "truth", [(KEPT_QUIET, False, False)])
    scores = write_scores(tmp_path / "scores", [(KEPT_QUIET, "verified", 20)], drop="risk_score")
    with pytest.raises(EvaluationInputError, match=r"missing column.*risk_score"):
        evaluate(scores, truth)


def test_an_unknown_status_is_refused(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "truth", [(KEPT_QUIET, False, False)])
    scores = write_scores(tmp_path / "scores", [(KEPT_QUIET, "fine", 20)])
    with pytest.raises(EvaluationInputError, match="status outside"):
        evaluate(scores, truth)


def test_scores_of_another_history_are_refused_not_measured(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "truth", [(KEPT_QUIET, False, False)])
    scores = write_scores(tmp_path / "scores", [(NOT_IN_TRUTH, "verified", 20)])

    with pytest.raises(EvaluationInputError, match="no number in common"):
        evaluate(scores, truth)


def test_scores_of_another_moment_than_the_truth_are_measured_with_a_warning(
    mixed: tuple[Path, Path],
) -> None:
    scores, truth = mixed
    write_scores(scores, [(KEPT_QUIET, "verified", 20)], as_of=datetime(2026, 3, 15))

    result = evaluate(scores, truth)

    assert result.warnings == (
        "the scores are as of 2026-03-15T00:00:00Z, the truth as of its history's end "
        "2026-11-01T00:00:00Z: score with --as-of 2026-11-01T00:00:00Z to measure the rules",
    )
    assert result.render().splitlines()[1].startswith("warning: the scores are as of 2026-03-15")
    assert result.to_dict()["warnings"] == list(result.warnings)
    write_scores(scores, [(KEPT_QUIET, "verified", 20)])  # as of the history's end
    assert evaluate(scores, truth).warnings == ()


def test_the_error_is_a_value_error_of_one_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as caught:
        evaluate(tmp_path, tmp_path)
    assert "\n" not in str(caught.value)


def test_the_history_folder_above_the_truth_is_accepted(mixed: tuple[Path, Path]) -> None:
    scores, truth = mixed
    history = truth.parent / "history"
    history.mkdir()
    truth.rename(history / "truth")
    assert evaluate(scores, history).phones == 6


def test_numbers_with_a_bound_account_are_measured_apart(mixed: tuple[Path, Path]) -> None:
    scores, truth = mixed
    assert evaluate(scores, truth).bound is None  # no truth/accounts.parquet: no breakdown
    pq.write_table(
        pa.table(
            {
                "network": ["vk", "ok"],
                "account_id": ["1", "2"],
                "phone": [RECYCLED_CAUGHT, KEPT_VERIFIED],
                "holder_id": [1, 2],
            }
        ),
        truth / "accounts.parquet",
    )

    bound = evaluate(scores, truth).bound

    assert bound is not None
    assert (bound.phones, bound.changed) == (2, 1)
    assert bound.precision == 1.0
    assert bound.recall == 1.0
    assert bound.false_alarm_rate == 0.0
    assert "numbers with a bound social account (2)" in evaluate(scores, truth).render()


def test_the_roc_curve_steps_down_the_distinct_risk_scores(mixed: tuple[Path, Path]) -> None:
    # Changed: 900, 400, 500 (unscored, at unknown's 500); unchanged: 100, 800, 50.
    points = roc_points(*mixed)

    assert points.get_column("threshold").to_list() == [np.inf, 900, 800, 500, 400, 100, 50]
    assert points.get_column("true_positive_rate").to_list() == pytest.approx(
        [0, 1 / 3, 1 / 3, 2 / 3, 1, 1, 1]
    )
    assert points.get_column("false_positive_rate").to_list() == pytest.approx(
        [0, 0, 1 / 3, 1 / 3, 1 / 3, 2 / 3, 1]
    )


def test_the_area_under_the_roc_curve_is_the_auc(mixed: tuple[Path, Path]) -> None:
    points = roc_points(*mixed)
    area = np.trapezoid(
        points.get_column("true_positive_rate").to_numpy(),
        points.get_column("false_positive_rate").to_numpy(),
    )
    assert area == pytest.approx(evaluate(*mixed).roc_auc)


def test_a_tie_between_classes_is_one_diagonal_step_of_the_curve() -> None:
    curve = roc_curve(np.array([700.0, 100, 700]), np.array([True, False, False]))

    assert curve is not None
    _, false_positive_rate, true_positive_rate = curve
    assert false_positive_rate.tolist() == [0, 0.5, 1]
    assert true_positive_rate.tolist() == [0, 1, 1]
    assert np.trapezoid(true_positive_rate, false_positive_rate) == 0.75


def test_the_roc_curve_is_empty_with_one_class(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "truth", [(KEPT_QUIET, False, False)], meta=False)
    scores = write_scores(tmp_path / "scores", [(KEPT_QUIET, "verified", 20)])

    assert roc_points(scores, truth).is_empty()
    assert roc_curve(np.array([1.0, 2.0]), np.array([True, True])) is None
