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
# # Delivery funnel: a day of notifications
#
# What became of the notifications in a store: accepted → sent → delivered → read in VK or OK,
# and the fallbacks (expired → SMS), how soon after acceptance; of those sent in VK or OK, how
# soon after sending they were delivered and read, set beside the published figures (42 %
# delivered within a minute, 60 % within an hour, 90 % within 24 h, 85 % read within 24 h);
# why notifications went by SMS; and what the day was billed against the same notifications
# all by SMS (on a store with no notification, that there is nothing to bill). Every figure
# comes from `pipelines.analytics`, over the store's `notifications`, `notification_events` and
# `billing_ledger`; this notebook only shows them.
#
# Inputs (environment variables, defaults to what `make notebooks` writes):
# - `OWNERSHIP_NOTIFICATIONS_URL`: the notification store, a SQLAlchemy URL (SQLite or
#   PostgreSQL), default `var/demo/day.db`, written by `ownership simulate-day`.

# %%
import os
from datetime import timedelta

import matplotlib.pyplot as plt
import polars as pl

from pipelines import analytics
from pipelines.paths import PROJECT_ROOT
from pipelines.reference import load_countries, load_prices

STORE_URL = os.environ.get(
    "OWNERSHIP_NOTIFICATIONS_URL", f"sqlite:///{PROJECT_ROOT / 'var/demo/day.db'}"
)


def shown(value: float | None, places: int = 4) -> str:
    """A figure to `places` decimals, or "no data" where the store has nothing to measure it
    by (a share of no notifications)."""
    return "no data" if value is None else f"{value:.{places}f}"


funnel = analytics.delivery_funnel(STORE_URL)
stages = funnel.stages
accepted = stages.item(0, "notifications")
print(f"notifications accepted: {accepted}")

# %% [markdown]
# ## The funnel
#
# How many notifications took each status, and how many took it within a minute, an hour and a
# day of their acceptance. A notification can take both branches: sent in a network, withdrawn
# at its TTL (`expired`), then sent by SMS.

# %%
for row in stages.iter_rows(named=True):
    print(f"{row['stage']}: {row['notifications']}")
fig, ax = plt.subplots(figsize=(9, 4))
ax.barh(stages["stage"].reverse(), stages["notifications"].reverse(), color="tab:blue")
ax.set_title("Notifications that took each status")
ax.set_xlabel("notifications")
ax.set_ylabel("status")
plt.show()
stages

# %% [markdown]
# ## Against the published figures
#
# Of the notifications sent in VK or OK, the share delivered within 1 min, 1 h and 24 h of
# being sent and read within 24 h of being sent. They are counted from the `sent` step, as the
# published figures are: a sensitive notification is sent only after the person's Yes, and its
# wait for that answer is the re-verification's, not the network's. The published figures
# hold for a message left in the network for a day; a shorter TTL, counted from acceptance,
# withdraws the undelivered ones and sends them by SMS, so the day's shares within an hour and
# a day sit below the published ones, and the notifications with a 24 h TTL come closest.
# Within a minute hardly any TTL has run out, so that share sits near the published 42 %.

# %%
timing = funnel.timing
day_ttl = analytics.delivery_funnel(STORE_URL, ttl=timedelta(hours=24)).timing

for row in timing.iter_rows(named=True):
    print(f"{row['measure']} within {row['label']}: {shown(row['share'])}")
for row in day_ttl.iter_rows(named=True):
    print(f"{row['measure']} within {row['label']}, 24 h TTL: {shown(row['share'])}")
print(f"sent in a social network: {timing.item(0, 'sent_notifications')}")
labels = [f"{m} ≤ {label}" for m, label in timing.select("measure", "label").iter_rows()]
positions = range(timing.height)
fig, ax = plt.subplots(figsize=(9, 4))
ax.bar([p - 0.27 for p in positions], timing["share"], width=0.27, label="this day, every TTL")
ax.bar([p for p in positions], day_ttl["share"], width=0.27, label="this day, 24 h TTL")
ax.bar(
    [p + 0.27 for p in positions],
    timing["published_share"],
    width=0.27,
    label="published",
    color="tab:gray",
)
ax.set_xticks(list(positions), labels)
ax.set_ylim(0, 1)
ax.set_title("Share of social notifications delivered and read, by time since sent")
ax.set_xlabel("status reached within the time since the message was sent")
ax.set_ylabel("share of notifications sent in VK or OK")
ax.legend()
plt.show()
pl.concat([timing.with_columns(ttl=pl.lit("all")), day_ttl.with_columns(ttl=pl.lit("24 h"))])

# %% [markdown]
# ## Why notifications went by SMS
#
# The policy's row when it chose SMS at once (owner_changed, unknown, no active account, no
# mobile app), or what happened on the social path: every network refused, the person denied
# the re-verification, or the TTL ran out before delivery or before an answer.

# %%
reasons = analytics.fallbacks_by_reason(STORE_URL)
print(f"sent by SMS: {reasons['notifications'].sum()}")
if reasons.height:
    print(f"most frequent fallback reason: {reasons.item(0, 'reason')}")
fig, ax = plt.subplots(figsize=(8, 4))
labels = reasons["reason"].reverse().to_list()
ax.barh(labels, reasons["sms_delivered"].reverse().to_list(), label="SMS delivered")
ax.barh(
    labels,
    reasons["sms_failed"].reverse().to_list(),
    left=reasons["sms_delivered"].reverse().to_list(),
    label="SMS failed",
    color="tab:red",
)
ax.set_title("Notifications sent by SMS, by reason")
ax.set_xlabel("notifications")
ax.set_ylabel("reason")
ax.legend()
plt.show()
reasons

# %% [markdown]
# ## What the day cost
#
# The billing ledger (only delivered notifications are billed, at the channel's price for the
# number's country) beside the same notifications all by SMS at `data/prices.csv`, every SMS
# billed, and the brief's model of social-first (60 % coverage, 60 % delivered within the TTL).

# %%
countries = load_countries()
try:
    billed = analytics.billed_against_sms(STORE_URL, load_prices(), countries=countries)
except analytics.AnalyticsInputError as nothing:
    # No notification kept, no price to set a bill beside: the comparison has no first
    # acceptance to take the prices of (the ledger below still lists the bills kept).
    billed = None
    print(f"nothing to bill: {nothing}")
if billed is not None:
    total = billed.total.row(0, named=True)
    print(f"all-SMS cost: {shown(total['all_sms_rub'], 2)} RUB")
    print(f"billed cost: {shown(total['billed_rub'], 2)} RUB")
    print(f"brief's model cost: {shown(total['modelled_rub'], 2)} RUB")
    print(f"saving share: {shown(total['saving_share'])}")
    by_country = billed.by_country.filter(pl.col("iso").is_not_null())
    positions = range(by_country.height)
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.bar([p - 0.2 for p in positions], by_country["all_sms_rub"], width=0.4, label="all SMS")
    ax.bar(
        [p + 0.2 for p in positions], by_country["sms_billed_rub"], width=0.4, label="billed, SMS"
    )
    ax.bar(
        [p + 0.2 for p in positions],
        by_country["social_billed_rub"],
        width=0.4,
        bottom=by_country["sms_billed_rub"],
        label="billed, VK and OK",
    )
    ax.set_xticks(list(positions), by_country["iso"].to_list())
    ax.set_title("The day's bill against the same notifications all by SMS, by country")
    ax.set_xlabel("country")
    ax.set_ylabel("cost, RUB")
    ax.legend()
    plt.show()
analytics.billing_by_country_channel(STORE_URL, countries)
