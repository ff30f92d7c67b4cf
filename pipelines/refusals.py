"""Why a run whose input was read must publish nothing (DESIGN §3), in one line each.

Two guards keep a feed's fault from reaching the scores served. Too much of the input broke its
contract: the whole run's rejected share, or any one kind's, passes the bound. A kind that the
last published run had rows of has none this run (a header-only export, say) and the operator
did not say it is meant. A kind is a small share of the rows (`accounts` is under 1 %), so the
whole run's share alone would let a lost kind through, and every number's answer change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.ingest import KindCounts

# the most places a share is told with, to tell it apart from its bound
MAX_PLACES = 6
# a kind's own share is held to the bound once this many of its rows broke their contract, or
# half of them (more than one, or all): a kind of a few dozen rows (number changes, a new
# service's verifications) is not refused for one bad row, while a feed that broke writes many
# more, or mostly bad ones
KIND_MIN_REJECTED = 10
KIND_BROKEN_SHARE = 0.5


@dataclass(frozen=True)
class Refusal:
    message: str
    # too much of the input broke its contract (else: only a kind was lost)
    too_many_rejects: bool


def refusal(
    counts: Mapping[str, KindCounts],
    bound: float,
    last_published: Mapping[str, int],
    allowed_empty: Iterable[str],
    rejects_dir: Path,
) -> Refusal | None:
    """Why the run must publish nothing, or None; when both guards hold it back, both say so."""
    too_many = rejected_share_refusal(counts, bound, rejects_dir)
    # a kind whose rows were all rejected past the bound is told once, as rejected: allowing
    # it to be empty would not let it through
    within = {name: kind for name, kind in counts.items() if not _past(kind, bound)}
    lost = lost_kinds_refusal(within, last_published, allowed_empty)
    if too_many:
        return Refusal(f"{too_many}. Also, {lost}" if lost else too_many, too_many_rejects=True)
    return Refusal(lost, too_many_rejects=False) if lost else None


def _past(kind: KindCounts, bound: float) -> bool:
    if not kind.rejected:
        return False
    share = kind.rejected / kind.rows
    # half or more, but not one row of two; a kind rejected whole is broken however small
    mostly_broken = share >= KIND_BROKEN_SHARE and (kind.rejected > 1 or share == 1)
    return share > bound and (kind.rejected >= KIND_MIN_REJECTED or mostly_broken)


def rejected_share_refusal(
    counts: Mapping[str, KindCounts], bound: float, rejects_dir: Path
) -> str | None:
    """Why the run must publish nothing when too much of its input broke the contracts: of all
    its rows, or of one kind's (its rejected rows of the rows it read, later ones included)."""
    rows = sum(kind.rows for kind in counts.values())
    rejected = sum(kind.rejected for kind in counts.values())
    if not rows:
        return None
    if rejected / rows > bound:
        worst = max(counts.values(), key=lambda kind: kind.rejected)
        return (
            f"{rejected:,} of {rows:,} rows ({share_percent(rejected / rows, bound)}) broke "
            f"their contract, more than the bound of {percent(bound)}; nothing was published. "
            f"Most are in {worst.kind} ({_top_reason(worst)}); see {rejects_dir}/"
        )
    over = [kind for kind in counts.values() if _past(kind, bound)]
    if not over:
        return None
    listed = "; ".join(
        f"{kind.rejected:,} of {kind.rows:,} rows of {kind.kind} "
        f"({share_percent(kind.rejected / kind.rows, bound)})"
        for kind in over
    )
    worst = max(over, key=lambda kind: kind.rejected / kind.rows)
    return (
        f"{listed} broke their contract, more than the bound of {percent(bound)} of a kind's "
        f"rows (of the run's, {share_percent(rejected / rows, None)}); nothing was published. "
        f"Most in {worst.kind} are {_top_reason(worst)}; see {rejects_dir}/"
    )


def _top_reason(kind: KindCounts) -> str:
    reason, count = max(kind.reject_reasons.items(), key=lambda item: item[1])
    return f"{count:,} × {reason!r}"


def lost_kinds_refusal(
    counts: Mapping[str, KindCounts],
    last_published: Mapping[str, int],
    allowed_empty: Iterable[str],
) -> str | None:
    """Why the run must publish nothing when a kind has no usable row (none, or all rejected)
    while the last published run had some, unless the operator allowed it to be empty."""
    allowed = set(allowed_empty)
    lost = [
        kind
        for name, kind in counts.items()
        if usable_rows(kind) == 0 and last_published.get(name, 0) > 0 and name not in allowed
    ]
    if not lost:
        return None
    told = "; ".join(
        f"kind {kind.kind} has no "
        + ("row" if not kind.rows else f"usable row (its {kind.rows:,} rejected)")
        + f" this run; the last published run had {last_published[kind.kind]:,}"
        for kind in lost
    )
    flags = " ".join(f"--allow-empty-kind {kind.kind}" for kind in lost)
    return (
        f"{told}: a feed that lost a kind would change every answer; nothing was published. "
        f"If it is meant, score once with {flags}"
    )


def usable_rows(kind: KindCounts) -> int:
    """The rows of a kind that kept their contract, later ones included: a past day re-scored
    has none of a kind that came later, which no feed lost."""
    return kind.rows - kind.rejected


def last_published_rows(manifest_file: Path, events_dir: Path) -> dict[str, int]:
    """The usable rows of each kind in the run the manifest describes, when it scored the
    history folder `events_dir` too; none for a folder no run published into, a manifest of
    another history (a new one, not a feed that lost a kind), or one that does not count them
    (a release's before it)."""
    try:
        manifest: Any = json.loads(manifest_file.read_text(encoding="utf-8"))
        # the folder as named (a link re-pointed at each day's export is one feed) or as found
        named = manifest.get("events_dir_named")
        if named != str(events_dir.absolute()) and manifest["events_dir"] != str(
            events_dir.resolve()
        ):
            return {}
        inputs = manifest["inputs"]
        return {
            kind: int(counted["rows"]) - int(counted["rejected"])
            for kind, counted in inputs.items()
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        # no guard rather than no run: a damaged manifest is replaced by this run's
        return {}


def percent(share: float) -> str:
    """A bound in percent, to six places without trailing zeros: a bound of 0.001 % is not
    0.00 %, nor 1e-03 %."""
    return f"{share * 100:.{MAX_PLACES}f}".rstrip("0").rstrip(".") + "%"


def share_percent(share: float, bound: float | None) -> str:
    """A share in percent to two places (22.22%), or to more when two would not tell it past
    its bound (a share of 0.0012 % over a bound of 0.001 %)."""
    places = 2
    while bound is not None and places < MAX_PLACES and round(share * 100, places) <= bound * 100:
        places += 1
    return f"{share * 100:.{places}f}%"
