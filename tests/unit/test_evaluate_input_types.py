"""The evaluation refuses a truth or scores whose columns have the wrong types, naming the
column, its type and the one expected, rather than measuring nonsense or failing in a join."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.evaluate import EvaluationInputError, evaluate
from tests.unit.test_evaluate import (
    KEPT_QUIET,
    RECYCLED_CAUGHT,
    write_scores,
    write_truth,
)


@pytest.fixture
def scores(tmp_path: Path) -> Path:
    return write_scores(
        tmp_path / "scores",
        [(RECYCLED_CAUGHT, "owner_changed", 900), (KEPT_QUIET, "verified", 50)],
    )


def write_labels(folder: Path, columns: dict[str, pa.Array]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), folder / "labels.parquet")
    return folder


def test_owner_changed_as_text_is_refused_not_read_as_all_changed(
    tmp_path: Path, scores: Path
) -> None:
    truth = write_labels(
        tmp_path / "truth",
        {
            "phone": pa.array([RECYCLED_CAUGHT, KEPT_QUIET]),
            "owner_changed": pa.array(["true", "false"]),
            "evidence": pa.array([True, False]),
        },
    )

    with pytest.raises(
        EvaluationInputError,
        match=r"labels\.parquet: column owner_changed has type string, expected boolean",
    ):
        evaluate(scores, truth)


def test_phones_as_integers_are_refused_naming_the_e164_text_expected(
    tmp_path: Path, scores: Path
) -> None:
    truth = write_labels(
        tmp_path / "truth",
        {
            "phone": pa.array([79230000001, 79230000006], pa.int64()),
            "owner_changed": pa.array([True, False]),
            "evidence": pa.array([True, False]),
        },
    )

    with pytest.raises(
        EvaluationInputError, match=r"column phone has type int64, expected string \(E\.164\)"
    ):
        evaluate(scores, truth)


def test_a_risk_score_as_text_is_refused(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "truth", [(KEPT_QUIET, False, False)])
    (tmp_path / "scores").mkdir()
    pq.write_table(
        pa.table({"phone": [KEPT_QUIET], "status": ["verified"], "risk_score": ["50"]}),
        tmp_path / "scores" / "scores.parquet",
    )

    with pytest.raises(EvaluationInputError, match=r"risk_score has type string, expected number"):
        evaluate(tmp_path / "scores", truth)


def test_categorical_phones_are_text_and_evaluate_as_such(tmp_path: Path, scores: Path) -> None:
    truth = write_labels(
        tmp_path / "truth",
        {
            "phone": pa.array([RECYCLED_CAUGHT, KEPT_QUIET]).dictionary_encode(),
            "owner_changed": pa.array([True, False]),
            "evidence": pa.array([True, False]),
        },
    )

    assert evaluate(scores, truth).recall == 1.0


def test_the_scores_and_labels_files_themselves_are_accepted(tmp_path: Path, scores: Path) -> None:
    truth = write_truth(
        tmp_path / "truth", [(RECYCLED_CAUGHT, True, True), (KEPT_QUIET, False, False)]
    )

    by_files = evaluate(scores / "scores.parquet", truth / "labels.parquet")

    assert by_files == evaluate(scores, truth)
