# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Ownership risk: the picture of one scoring run
#
# What `ownership score` concluded about every number: the statuses, the risk scores, the
# reasons behind them, how recently holders took their numbers, and, on a generated history,
# how well the verdicts match the truth. Every figure comes from `pipelines.analytics` and
# `pipelines.evaluate`, the queries production runs; this notebook only shows them.
#
# Inputs (environment variables, defaults to what `make run` writes):
# - `OWNERSHIP_SCORES_DIR`: a scores folder (`scores.parquet`, `manifest.json`);
# - `OWNERSHIP_HISTORY_DIR`: the history it was scored from; its `truth/` folder, written by
#   `ownership synth`, enables the evaluation at the end.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import polars as pl

from pipelines import analytics, evaluate
from pipelines.paths import PROJECT_ROOT

SCORES_DIR = Path(os.environ.get("OWNERSHIP_SCORES_DIR", PROJECT_ROOT / "var/demo/scores"))
HISTORY_DIR = Path(os.environ.get("OWNERSHIP_HISTORY_DIR", PROJECT_ROOT / "var/demo/events"))
STATUS_COLOURS = {
    "verified": "tab:green",
    "suspicious": "tab:orange",
    "owner_changed": "tab:red",
    "unknown": "tab:gray",
}


def shown(value: float | None, places: int = 4) -> str:
    """A measure to `places` decimals, or "n/a" as `ownership evaluate` prints one the truth
    cannot give (a recall when nothing changed owner, an AUC with one class)."""
    return "n/a" if value is None else f"{value:.{places}f}"


manifest = analytics.read_manifest(SCORES_DIR)
print(f"scores as of: {manifest['as_of']} (code {manifest.get('code_version')})")
print(f"numbers scored: {manifest['numbers']}")

# %% [markdown]
# ## Statuses

# %%
statuses = analytics.status_summary(SCORES_DIR)
owner_changed = statuses.row(by_predicate=pl.col("status") == "owner_changed", named=True)
print(f"owner_changed share: {owner_changed['share']:.4f}")
statuses

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.bar(
    statuses["status"],
    statuses["numbers"],
    color=[STATUS_COLOURS[status] for status in statuses["status"]],
)
ax.set_title(f"Numbers by status, as of {manifest['as_of']}")
ax.set_xlabel("status")
ax.set_ylabel("numbers")
plt.show()

# %% [markdown]
# ## Risk scores
#
# Bands follow the status: verified 0-299, suspicious 300-699, unknown 500, owner_changed
# 700-1000; inside a band the score orders by strength and recency of the evidence.

# %%
histogram = analytics.risk_histogram(SCORES_DIR)
fig, ax = plt.subplots(figsize=(9, 4))
bottom = [0] * histogram.height
for status, colour in STATUS_COLOURS.items():
    ax.bar(
        histogram["bin_start"],
        histogram[status],
        width=analytics.RISK_BIN_WIDTH,
        align="edge",
        bottom=bottom,
        color=colour,
        label=status,
    )
    bottom = [below + count for below, count in zip(bottom, histogram[status], strict=True)]
ax.set_title("Risk score histogram, by status")
ax.set_xlabel(f"risk_score (bins of {analytics.RISK_BIN_WIDTH} points)")
ax.set_ylabel("numbers")
ax.legend()
plt.show()

# %% [markdown]
# ## Reasons
#
# A verdict carries several reasons, so the shares add up past 1.

# %%
reasons = analytics.reason_frequency(SCORES_DIR)
print(f"most frequent reason: {reasons['reason'][0]}")
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.barh(reasons["reason"].reverse(), reasons["numbers"].reverse(), color="tab:blue")
ax.set_title("Reasons by the numbers they explain")
ax.set_xlabel("numbers")
ax.set_ylabel("reason code")
plt.show()
reasons

# %% [markdown]
# ## Recency of ownership changes
#
# How long before `as_of` the current holder took the number (`owner_since`). For an
# `owner_changed` number that is the first evidence of the new holder; `none` when no holder
# has shown since the change (the number went out of service, or its new holder is not seen
# yet), so the service vouches for no one.

# %%
recency = analytics.owner_since_recency(SCORES_DIR)
for band, count in recency.select("band", "owner_changed").iter_rows():
    print(f"owner_changed, holder since within the {band} band: {count}")
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.bar(recency["band"], recency["owner_changed"], color=STATUS_COLOURS["owner_changed"])
ax.set_title("owner_changed numbers by how recently the new holder appeared")
ax.set_xlabel("owner_since before as_of (day, week, month, quarter, year, older, none)")
ax.set_ylabel("numbers")
plt.show()
recency

# %% [markdown]
# ## By country
#
# A number's country is the longest E.164 prefix of `data/countries.csv`.

# %%
by_country = analytics.status_by_country(SCORES_DIR)
fig, ax = plt.subplots(figsize=(9, 3.5))
ax.bar(by_country["iso"].fill_null("other"), by_country["owner_changed_share"], color="tab:red")
ax.set_title("Share of numbers whose owner changed, by country")
ax.set_xlabel("country")
ax.set_ylabel("owner_changed share")
plt.show()
by_country

# %% [markdown]
# ## Against the truth of a generated history
#
# Only a history made by `ownership synth` has a truth (`truth/labels.parquet`): whether the
# person behind each number's bound account still holds it.

# %%
truth_dir = HISTORY_DIR / "truth"
has_truth = (truth_dir / "labels.parquet").is_file()
if has_truth:
    evaluation = evaluate.evaluate(SCORES_DIR, truth_dir)
    print(evaluation.render())
    print(f"ROC AUC: {shown(evaluation.roc_auc)}")
    print(f"precision of owner_changed: {shown(evaluation.precision)}")
    print(f"recall of owner_changed: {shown(evaluation.recall)}")
elif not HISTORY_DIR.is_dir():  # a mistyped folder is not a history without a truth
    print(f"no history folder at {HISTORY_DIR.resolve()}: the evaluation is skipped")
else:
    print(f"no truth under {truth_dir}: the evaluation is skipped")

# %%
if has_truth:
    roc = evaluate.roc_points(SCORES_DIR, truth_dir)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(roc["false_positive_rate"], roc["true_positive_rate"], color="tab:red")
    ax.plot([0, 1], [0, 1], linestyle=":", color="tab:gray")
    ax.set_title(f"ROC of risk_score against the truth (AUC {shown(evaluation.roc_auc, 3)})")
    ax.set_xlabel("false-positive rate (kept owners flagged)")
    ax.set_ylabel("true-positive rate (changed owners flagged)")
    plt.show()

# %%
if has_truth:
    labels = ("changed", "unchanged")
    matrix = [
        [evaluation.confusion[status][label] for label in labels] for status in evaluate.STATUSES
    ]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.imshow(matrix, cmap="Blues", aspect="auto")
    for row, counts in enumerate(matrix):
        for column, count in enumerate(counts):
            ax.text(column, row, f"{count}", ha="center", va="center")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(evaluate.STATUSES)), evaluate.STATUSES)
    ax.set_title("Confusion matrix: predicted status by truth")
    ax.set_xlabel("truth: owner of the bound account")
    ax.set_ylabel("predicted status")
    plt.show()
