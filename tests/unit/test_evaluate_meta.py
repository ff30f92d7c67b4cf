"""The evaluation refuses a truth whose meta.json is damaged, naming the file and the field,
rather than failing in the warnings that read it (`end`, `rows`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.evaluate import EvaluationInputError, evaluate
from tests.unit.test_evaluate import KEPT_QUIET, RECYCLED_CAUGHT, write_scores, write_truth


@pytest.fixture
def scores(tmp_path: Path) -> Path:
    folder = write_scores(
        tmp_path / "scores",
        [(RECYCLED_CAUGHT, "owner_changed", 900), (KEPT_QUIET, "verified", 50)],
    )
    # the scoring run's row counts, which the truth's `rows` are compared with
    (folder / "manifest.json").write_text(json.dumps({"inputs": {"code_entries": {"rows": 3}}}))
    return folder


def truth_with_meta(tmp_path: Path, meta: object) -> Path:
    truth = write_truth(
        tmp_path / "truth", [(RECYCLED_CAUGHT, True, True), (KEPT_QUIET, False, False)]
    )
    (truth / "meta.json").write_text(json.dumps(meta))
    return truth


@pytest.mark.parametrize(
    ("meta", "says"),
    [
        ({"end": "yesterday"}, "end is 'yesterday', expected an ISO date and time"),
        ({"end": 20261101}, "end is 20261101, expected an ISO date and time"),
        ({"start": None, "end": "2026-11-01"}, "start is None, expected an ISO date and time"),
        (
            {"end": "2026-11-01", "rows": {"code_entries": "x"}},
            "rows.code_entries is 'x', expected a count of rows",
        ),
        (
            {"end": "2026-11-01", "rows": {"code_entries": True}},
            "rows.code_entries is True, expected a count of rows",
        ),
        (
            {"end": "2026-11-01", "rows": [3]},
            r"rows is \[3\], expected an object of row counts by kind",
        ),
        (["end", "rows"], "not a JSON object"),
    ],
    ids=[
        "end-not-a-date",
        "end-a-number",
        "start-null",
        "rows-text",
        "rows-bool",
        "rows-list",
        "list",
    ],
)
def test_a_damaged_meta_json_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, scores: Path, meta: object, says: str
) -> None:
    truth = truth_with_meta(tmp_path, meta)

    with pytest.raises(EvaluationInputError, match=rf"truth/meta\.json: {says}$"):
        evaluate(scores, truth)


def test_a_meta_json_that_is_not_text_is_refused(tmp_path: Path, scores: Path) -> None:
    truth = truth_with_meta(tmp_path, {})
    (truth / "meta.json").write_bytes(b"\xff\xfe{}")

    with pytest.raises(EvaluationInputError, match=r"truth/meta\.json: not UTF-8 text"):
        evaluate(scores, truth)


def test_a_meta_json_of_the_generators_shape_is_read(tmp_path: Path, scores: Path) -> None:
    # the end as a date alone, and the row counts the scoring run read
    truth = truth_with_meta(tmp_path, {"end": "2026-11-01", "rows": {"code_entries": 3}})

    result = evaluate(scores, truth)

    assert result.truth_meta == {"end": "2026-11-01", "rows": {"code_entries": 3}}
    assert result.warnings == ()
