"""How well a scoring run finds owner changes, measured against a synthetic history's truth
(DESIGN §9: `ownership evaluate --scores DIR --truth DIR`).

The truth is `truth/labels.parquet` written by `pipelines.synth`: per number, whether the person
behind its bound account(s) is no longer its holder (`owner_changed`) and whether that change
left any trace in the events (`evidence`). A number the scores leave out counts as `unknown`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    import polars as pl

STATUSES = ("verified", "suspicious", "owner_changed", "unknown")
SCORE_COLUMNS = ("phone", "status", "risk_score")
LABEL_COLUMNS = ("phone", "owner_changed", "evidence")
HOLDER_SINCE = "current_holder_since"  # null when the number is out of service
# A number missing from the scores is `unknown`, and the scores contract gives unknown 500.
UNKNOWN_RISK_SCORE = 500


def _is_text(type_: pa.DataType) -> bool:
    if pa.types.is_dictionary(type_):  # a categorical column
        return _is_text(type_.value_type)
    return any(
        test(type_)
        for test in (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    )


def _is_number(type_: pa.DataType) -> bool:
    return bool(pa.types.is_integer(type_) or pa.types.is_floating(type_))


# What each column read must hold (the scores contract, data/schemas/scores.yaml, and the
# generator's truth), by name: a string "true" is no boolean, and would count every number as
# changed.
COLUMN_TYPES: dict[str, tuple[str, Callable[[pa.DataType], bool]]] = {
    "phone": ("string (E.164)", _is_text),
    "status": ("string", _is_text),
    "risk_score": ("number", _is_number),
    "owner_changed": ("boolean", pa.types.is_boolean),
    "evidence": ("boolean", pa.types.is_boolean),
}


class EvaluationInputError(ValueError):
    """The scores or the truth cannot be evaluated; the message says which file and why."""


@dataclass(frozen=True)
class Evaluation:
    # confusion[status] = {"changed": n, "unchanged": n}: predicted status by truth label.
    confusion: Mapping[str, Mapping[str, int]]
    phones: int  # numbers in the truth
    changed: int  # numbers whose truth is owner_changed
    missing_from_scores: int  # truth numbers absent from the scores (counted as unknown)
    extra_in_scores: int  # scored numbers absent from the truth (ignored)
    precision: float | None  # of status owner_changed; None when nothing was called changed
    recall: float | None  # of truth owner_changed; None when nothing changed
    recall_with_evidence: float | None  # recall over the changes that left a trace
    # verified answers "held by the bound account's holder": its precision is the unchanged
    # share of the numbers called verified, its recall the verified share of the unchanged.
    # suspicious and unknown have no class in the truth; the matrix shows their changed share.
    verified_precision: float | None
    verified_recall: float | None
    # recall over the changes whose number now has a new holder, and over those whose number is
    # out of service at the end (its holder left, no one has it yet: the bound account's owner
    # no longer holds it either); None without the truth's current_holder_since
    recall_new_holder: float | None
    recall_out_of_service: float | None
    roc_auc: float | None  # risk_score against truth owner_changed; None with one class only
    changed_without_evidence: int
    changed_without_evidence_share: float | None  # of the changed numbers
    false_alarm_rate: float | None  # unchanged numbers called owner_changed, of all unchanged
    truth_meta: Mapping[str, Any]  # seed, phones, start, end, rows of the history when known
    # The same measures over the numbers with a social account bound at the end of the history
    # (truth/accounts.parquet): the ones a delivery in VK or OK could send to the wrong person.
    # For a number with none, owner_changed only says the holder changed within the history.
    bound: Evaluation | None = None
    # what makes the figures doubtful: scores of another moment than the truth's end, or of
    # another history
    warnings: tuple[str, ...] = ()

    @property
    def unchanged(self) -> int:
        return self.phones - self.changed

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the confusion matrix as nested objects)."""
        return {
            "phones": self.phones,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "missing_from_scores": self.missing_from_scores,
            "extra_in_scores": self.extra_in_scores,
            "confusion": {status: dict(row) for status, row in self.confusion.items()},
            "precision": self.precision,
            "recall": self.recall,
            "recall_with_evidence": self.recall_with_evidence,
            "verified_precision": self.verified_precision,
            "verified_recall": self.verified_recall,
            "recall_new_holder": self.recall_new_holder,
            "recall_out_of_service": self.recall_out_of_service,
            "roc_auc": self.roc_auc,
            "changed_without_evidence": self.changed_without_evidence,
            "changed_without_evidence_share": self.changed_without_evidence_share,
            "false_alarm_rate": self.false_alarm_rate,
            "truth_meta": dict(self.truth_meta),
            "bound": self.bound.to_dict() if self.bound else None,
            "warnings": list(self.warnings),
        }

    def render(self) -> str:
        """A plain-text report: the matrix, then the measures."""
        meta = self.truth_meta
        head = "Evaluation against the synthetic truth"
        if meta:
            head += f" (seed {meta.get('seed')}, history {meta.get('start')} to {meta.get('end')})"
        lines = [
            head,
            *(f"warning: {warning}" for warning in self.warnings),
            "",
            "predicted status by truth (owner_changed: changed / unchanged)",
            f"{'status':<15}{'changed':>12}{'unchanged':>12}{'total':>12}{'changed %':>12}",
        ]
        for status in STATUSES:
            row = self.confusion[status]
            total = row["changed"] + row["unchanged"]
            share = _percent(row["changed"] / total if total else None)
            lines.append(
                f"{status:<15}{row['changed']:>12}{row['unchanged']:>12}{total:>12}{share:>12}"
            )
        share = _percent(self.changed / self.phones if self.phones else None)
        lines.append(
            f"{'total':<15}{self.changed:>12}{self.unchanged:>12}{self.phones:>12}{share:>12}"
        )
        lines.append("")
        measures = self._measures()
        lines += [f"{name:<32}{value}" for name, value in measures]
        if self.bound is not None:
            lines += ["", f"numbers with a bound social account ({self.bound.phones}):"]
            # the counts of numbers missing from or extra to the scores are the whole's
            lines += [f"  {name:<30}{value}" for name, value in self.bound._measures()[:-2]]
        return "\n".join(lines) + "\n"

    def _measures(self) -> list[tuple[str, str]]:
        return [
            ("precision of owner_changed", _ratio(self.precision)),
            ("recall of owner_changed", _ratio(self.recall)),
            ("recall, changes with evidence", _ratio(self.recall_with_evidence)),
            ("recall, to a new holder", _ratio(self.recall_new_holder)),
            ("recall, now out of service", _ratio(self.recall_out_of_service)),
            ("precision of verified", _ratio(self.verified_precision)),
            ("recall of verified", _ratio(self.verified_recall)),
            ("ROC AUC of risk_score", _ratio(self.roc_auc)),
            ("false-alarm rate", _percent(self.false_alarm_rate)),
            (
                "changes without evidence",
                f"{self.changed_without_evidence} "
                f"({_percent(self.changed_without_evidence_share)} of changes)",
            ),
            ("missing from scores", f"{self.missing_from_scores} (counted as unknown)"),
            ("scored, not in truth", f"{self.extra_in_scores} (ignored)"),
        ]


@dataclass(frozen=True)
class _Labelled:
    """The truth's numbers with their predicted status and risk (unknown and 500 if unscored)."""

    status: np.ndarray
    risk: np.ndarray
    changed: np.ndarray
    evidence: np.ndarray  # changed, and the change left a trace
    # changed, and no one holds the number at the end; None when the truth does not say
    out_of_service: np.ndarray | None
    missing: np.ndarray  # absent from the scores
    bound: np.ndarray | None  # with a social account bound; None without truth/accounts.parquet
    extra: int  # scored numbers absent from the truth
    meta: Mapping[str, Any]
    warnings: tuple[str, ...]


def _label(scores_dir: Path, truth_dir: Path) -> _Labelled:
    truth_dir = Path(truth_dir)
    labels_file = truth_dir / "labels.parquet"
    if truth_dir.is_file():  # labels.parquet itself: named as given, in any message
        labels_file, truth_dir = truth_dir, truth_dir.parent
    elif not labels_file.exists() and (truth_dir / "truth").is_dir():
        truth_dir = truth_dir / "truth"
        labels_file = truth_dir / "labels.parquet"
    scores_file = Path(scores_dir)  # the folder, or the file itself
    if not scores_file.is_file():
        scores_file = scores_file / "scores.parquet"
    scores = _read(scores_file, SCORE_COLUMNS)
    if not labels_file.exists():  # a history of real events, say: there is nothing to name
        raise EvaluationInputError(
            f"{truth_dir} holds no truth (labels.parquet, or a truth/ folder with it): only "
            "a history `ownership synth` generated has one"
        )
    labels = _read(labels_file, LABEL_COLUMNS)
    meta = _read_meta(Path(truth_dir) / "meta.json")
    _check_scores(scores)
    if labels.get_column("phone").is_duplicated().any():
        raise EvaluationInputError(f"{labels_file}: a phone appears twice")

    joined = labels.join(scores, on="phone", how="left")
    if scores.height and labels.height and joined.get_column("status").is_null().all():
        raise EvaluationInputError(
            f"the scores ({scores_file}) and the truth ({truth_dir}) have no number in common: "
            "they are of different histories"
        )
    changed = joined.get_column("owner_changed").fill_null(False).to_numpy().astype(bool)
    bound = None
    if (truth_dir / "accounts.parquet").is_file():
        bound_phones = _read(truth_dir / "accounts.parquet", ("phone",)).get_column("phone")
        bound = joined.get_column("phone").is_in(bound_phones.unique().implode()).to_numpy()
    return _Labelled(
        status=joined.get_column("status").fill_null("unknown").to_numpy(),
        risk=joined.get_column("risk_score").fill_null(UNKNOWN_RISK_SCORE).to_numpy(),
        changed=changed,
        evidence=joined.get_column("evidence").fill_null(False).to_numpy().astype(bool) & changed,
        out_of_service=_out_of_service(labels_file, joined, changed),
        missing=joined.get_column("status").is_null().to_numpy(),
        bound=bound,
        extra=scores.join(labels.select("phone"), on="phone", how="anti").height,
        meta=meta,
        warnings=_moment_warnings(scores_file, meta) + _history_warnings(scores_file, meta),
    )


def _out_of_service(labels: Path, joined: pl.DataFrame, changed: np.ndarray) -> np.ndarray | None:
    """The changed numbers no one holds at the end (`current_holder_since` null), when the
    truth has that column (a hand-made truth may not)."""
    if HOLDER_SINCE not in pq.read_schema(labels).names:
        return None
    import polars as pl

    holder_since = pl.read_parquet(labels, columns=["phone", HOLDER_SINCE], glob=False)
    holder_since = holder_since.with_columns(pl.col("phone").cast(pl.String))
    nobody = joined.select("phone").join(holder_since, on="phone", how="left")
    out_of_service: np.ndarray = nobody.get_column(HOLDER_SINCE).is_null().to_numpy() & changed
    return out_of_service


# What the notify path adds to a history after it was generated (DESIGN §2, step 5).
GROWING_KINDS = frozenset({"verifications"})


def _history_warnings(scores_file: Path, meta: Mapping[str, Any]) -> tuple[str, ...]:
    """Scores of another history that happens to share numbers with the truth's (histories of
    one seed do) give figures that look right and mean nothing. The scoring run's manifest
    counts the rows it read of each kind; the generator, the rows it wrote."""
    manifest_file = scores_file.parent / "manifest.json"
    if "rows" not in meta or not manifest_file.is_file():
        return ()
    try:
        inputs = json.loads(manifest_file.read_text(encoding="utf-8")).get("inputs", {})
        read = {kind: int(counts["rows"]) for kind, counts in inputs.items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return ()  # a manifest of another shape says nothing either way
    differing = [
        kind
        for kind, written in meta["rows"].items()
        if kind not in GROWING_KINDS and kind in read and read[kind] != written
    ]
    if not differing:
        return ()
    kind = differing[0]
    return (
        f"the scores were made from a history with {read[kind]:,} rows of {kind}, the truth's "
        f"history has {meta['rows'][kind]:,}: if they are different histories, these figures "
        "mean nothing",
    )


def _moment_warnings(scores_file: Path, meta: Mapping[str, Any]) -> tuple[str, ...]:
    """The truth says who held each number at the history's end; scores of another moment are
    judged against labels that were not yet (or no longer) true."""
    if "end" not in meta or "as_of" not in pq.read_schema(scores_file).names:
        return ()
    import polars as pl

    as_of = pl.read_parquet(scores_file, columns=["as_of"], n_rows=1, glob=False)
    if not as_of.height:
        return ()
    scored_at = as_of.item(0, 0)
    truth_end = datetime.fromisoformat(str(meta["end"])).replace(tzinfo=None)
    if scored_at is None or scored_at.replace(tzinfo=None) == truth_end:
        return ()
    return (
        f"the scores are as of {scored_at:%Y-%m-%dT%H:%M:%SZ}, the truth as of its history's end "
        f"{truth_end:%Y-%m-%dT%H:%M:%SZ}: score with --as-of {truth_end:%Y-%m-%dT%H:%M:%SZ} "
        "to measure the rules",
    )


def evaluate(scores_dir: Path, truth_dir: Path) -> Evaluation:
    """Compare `scores_dir/scores.parquet` with `truth_dir/labels.parquet`.

    `truth_dir` is the generator's `truth/` folder; the history folder above it is accepted too.
    Either may also be its file itself (`scores.parquet`, `labels.parquet`).
    """
    found = _label(scores_dir, truth_dir)
    bound = None
    if found.bound is not None:
        among = found.bound
        bound = _measure(
            found.status[among],
            found.risk[among],
            found.changed[among],
            found.evidence[among],
            None if found.out_of_service is None else found.out_of_service[among],
            int(found.missing[among].sum()),
            0,
            found.meta,
        )
    return _measure(
        found.status,
        found.risk,
        found.changed,
        found.evidence,
        found.out_of_service,
        int(found.missing.sum()),
        found.extra,
        found.meta,
        bound,
        found.warnings,
    )


def roc_points(scores_dir: Path, truth_dir: Path) -> pl.DataFrame:
    """The ROC curve of risk_score against the truth's owner_changed, numbers counted as in
    `evaluate`: one row per threshold, from the strictest (nothing called changed) down, with
    the false- and true-positive rates of calling changed every number scored at or above it.
    Empty when the truth has one class only."""
    import polars as pl

    labelled = _label(scores_dir, truth_dir)
    curve = roc_curve(labelled.risk.astype(np.float64), labelled.changed)
    threshold, false_positive_rate, true_positive_rate = curve or (np.empty(0),) * 3
    return pl.DataFrame(
        {
            "threshold": threshold,
            "false_positive_rate": false_positive_rate,
            "true_positive_rate": true_positive_rate,
        },
        schema={
            "threshold": pl.Float64,
            "false_positive_rate": pl.Float64,
            "true_positive_rate": pl.Float64,
        },
    )


def _measure(
    status: np.ndarray,
    risk: np.ndarray,
    changed: np.ndarray,
    evidence: np.ndarray,
    out_of_service: np.ndarray | None,
    missing: int,
    extra: int,
    meta: Mapping[str, Any],
    bound: Evaluation | None = None,
    warnings: tuple[str, ...] = (),
) -> Evaluation:
    confusion = {
        name: {
            "changed": int(((status == name) & changed).sum()),
            "unchanged": int(((status == name) & ~changed).sum()),
        }
        for name in STATUSES
    }
    called = status == "owner_changed"
    verified = status == "verified"
    return Evaluation(
        confusion=confusion,
        phones=int(status.size),
        changed=int(changed.sum()),
        missing_from_scores=missing,
        extra_in_scores=extra,
        precision=_share(called & changed, called),
        recall=_share(called & changed, changed),
        recall_with_evidence=_share(called & evidence, evidence),
        verified_precision=_share(verified & ~changed, verified),
        verified_recall=_share(verified & ~changed, ~changed),
        recall_new_holder=(
            None
            if out_of_service is None
            else _share(called & changed & ~out_of_service, changed & ~out_of_service)
        ),
        recall_out_of_service=(
            None if out_of_service is None else _share(called & out_of_service, out_of_service)
        ),
        roc_auc=roc_auc(risk.astype(np.float64), changed),
        changed_without_evidence=int((changed & ~evidence).sum()),
        changed_without_evidence_share=_share(changed & ~evidence, changed),
        false_alarm_rate=_share(called & ~changed, ~changed),
        truth_meta=meta,
        bound=bound,
        warnings=warnings,
    )


def roc_auc(score: np.ndarray, positive: np.ndarray) -> float | None:
    """Probability that a random positive scores above a random negative (ties count half),
    by the Mann-Whitney rank sum with average ranks for ties. None with a class missing."""
    positives = int(positive.sum())
    negatives = int(positive.size - positives)
    if positives == 0 or negatives == 0:
        return None
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    # Tied values share the mean of the 1-based ranks they occupy.
    last_rank = np.cumsum(counts)
    mean_rank = last_rank - (counts - 1) / 2
    rank_sum = float(mean_rank[inverse][positive].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def roc_curve(
    score: np.ndarray, positive: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(threshold, false-positive rate, true-positive rate) of calling positive every score at
    or above each distinct score, highest first, after an opening point at +inf (none called).
    Its area by trapezoids is `roc_auc`. None with a class missing."""
    positives = int(positive.sum())
    negatives = int(positive.size - positives)
    if positives == 0 or negatives == 0:
        return None
    thresholds = np.unique(score)[::-1]
    ascending_positive = np.sort(score[positive])
    ascending_negative = np.sort(score[~positive])
    # How many of each class score at or above each threshold.
    true = positives - np.searchsorted(ascending_positive, thresholds, side="left")
    false = negatives - np.searchsorted(ascending_negative, thresholds, side="left")
    return (
        np.concatenate(([np.inf], thresholds)),
        np.concatenate(([0.0], false / negatives)),
        np.concatenate(([0.0], true / positives)),
    )


def _read(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    if not path.is_file():
        raise EvaluationInputError(f"{path}: file not found")
    try:
        schema = pq.read_schema(path)
    except Exception as error:  # pyarrow raises several types for a file that is not Parquet
        raise EvaluationInputError(f"{path}: not a readable Parquet file ({error})") from error
    absent = [name for name in columns if name not in schema.names]
    if absent:
        raise EvaluationInputError(f"{path}: missing column(s) {', '.join(absent)}")
    for name in columns:
        type_ = schema.field(name).type
        expected, accepts = COLUMN_TYPES[name]
        if not accepts(type_):
            raise EvaluationInputError(
                f"{path}: column {name} has type {type_}, expected {expected}"
            )
    import polars as pl  # here, so that the command line starts without it

    texts = [name for name in columns if _is_text(schema.field(name).type)]
    # glob=False: a folder named `demo [1]` is a name, not a pattern
    frame = pl.read_parquet(path, columns=list(columns), glob=False)
    # a categorical column joins as plain text
    return frame.with_columns(pl.col(texts).cast(pl.String))


def _read_meta(path: Path) -> dict[str, Any]:
    # Optional: a hand-made truth may have labels only. What it holds is refused when damaged,
    # as the labels are: the warnings read `end` and `rows`, and a truth whose meta.json is not
    # the generator's may not be the truth of these scores either.
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise EvaluationInputError(f"{path}: not UTF-8 text ({error.reason})") from error
    except json.JSONDecodeError as error:
        raise EvaluationInputError(f"{path}: not valid JSON ({error.msg})") from error
    if not isinstance(meta, dict):
        raise EvaluationInputError(f"{path}: not a JSON object")
    kept = {key: meta[key] for key in ("seed", "phones", "start", "end", "rows") if key in meta}
    for key in ("start", "end"):
        if key in kept and not _is_moment(kept[key]):
            raise EvaluationInputError(
                f"{path}: {key} is {kept[key]!r}, expected an ISO date and time"
            )
    if "rows" in kept:
        rows = kept["rows"]
        if not isinstance(rows, dict):
            raise EvaluationInputError(
                f"{path}: rows is {rows!r}, expected an object of row counts by kind"
            )
        for kind, count in rows.items():
            # bool is an int to Python, not a count to anyone
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise EvaluationInputError(
                    f"{path}: rows.{kind} is {count!r}, expected a count of rows"
                )
    return kept


def _is_moment(value: object) -> bool:
    # A string only: fromisoformat would read the number 20261101 as a date once made text.
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _check_scores(scores: pl.DataFrame) -> None:
    unknown = set(scores.get_column("status").drop_nulls().unique().to_list()) - set(STATUSES)
    if unknown or scores.get_column("status").null_count():
        shown = ", ".join(sorted(unknown)) or "null"
        raise EvaluationInputError(f"scores.parquet: status outside {STATUSES}: {shown}")
    if scores.get_column("risk_score").null_count():
        raise EvaluationInputError("scores.parquet: risk_score is null for some numbers")
    if scores.get_column("phone").is_duplicated().any():
        raise EvaluationInputError("scores.parquet: a phone appears twice")


def _share(hits: np.ndarray, among: np.ndarray) -> float | None:
    total = int(among.sum())
    return int(hits.sum()) / total if total else None


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"
