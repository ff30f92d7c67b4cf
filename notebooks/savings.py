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
# # Savings: social-first delivery against all-SMS
#
# The cost of the same traffic sent all by SMS, and social-first (VK, OK) with SMS fallback,
# by country, at the configured prices (`data/prices.csv`, the table billing uses), with the
# social audience of each country (`data/countries.csv`, DESIGN §11). Every figure comes from
# `pipelines.analytics`; this notebook only sets the assumptions and shows the answers.
#
# Inputs (environment variables, defaults to what `make run` writes):
# - `OWNERSHIP_SCORES_DIR`: a scores folder; its numbers are the traffic's recipients.
# - `OWNERSHIP_NOTIFICATIONS_PER_NUMBER`: notifications each number receives (default 1).

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt

from pipelines import analytics
from pipelines.paths import PROJECT_ROOT
from pipelines.reference import load_countries, load_prices

SCORES_DIR = Path(os.environ.get("OWNERSHIP_SCORES_DIR", PROJECT_ROOT / "var/demo/scores"))
PER_NUMBER_SETTING = os.environ.get("OWNERSHIP_NOTIFICATIONS_PER_NUMBER", "1")
try:
    NOTIFICATIONS_PER_NUMBER = float(PER_NUMBER_SETTING)
except ValueError:
    raise SystemExit(
        f"OWNERSHIP_NOTIFICATIONS_PER_NUMBER={PER_NUMBER_SETTING!r} is not a number"
    ) from None
# The brief's figures: 60 % of numbers reachable in VK or OK, 60 % delivered within the hour.
COVERAGE = analytics.BRIEF_COVERAGE
DELIVERED_SHARE = analytics.BRIEF_DELIVERED_WITHIN_TTL


def shown(value: float | None, places: int = 4) -> str:
    """A figure to `places` decimals, or "no data" where there is nothing to measure it by (a
    saving on no traffic)."""
    return "no data" if value is None else f"{value:.{places}f}"


countries = load_countries()
prices = load_prices()
as_of = analytics.scores_as_of(SCORES_DIR)
traffic = analytics.uniform_traffic(SCORES_DIR, NOTIFICATIONS_PER_NUMBER)
print(f"prices as of: {as_of:%Y-%m-%d}")
print(f"notifications: {traffic['notifications'].sum():.0f}")

# %% [markdown]
# ## Cost by country

# %%
costs = analytics.cost_against_sms(
    traffic, prices, as_of, countries, coverage=COVERAGE, delivered_share=DELIVERED_SHARE
)
total = costs.total.row(0, named=True)
print(f"all-SMS cost: {total['all_sms_rub']:.2f} RUB")
print(f"social-first cost: {total['social_first_rub']:.2f} RUB")
print(f"saving share: {shown(total['saving_share'])}")
print(f"notifications without a price: {total['notifications_without_price']:.0f}")
costs.by_country.select(
    "iso",
    "country",
    "notifications",
    "sms_rub",
    "vk_rub",
    "ok_rub",
    "all_sms_rub",
    "social_first_rub",
    "saving_share",
)

# %%
by_country = costs.by_country.filter(costs.by_country["iso"].is_not_null())
positions = range(by_country.height)
fig, ax = plt.subplots(figsize=(10, 4))
ax.bar([p - 0.2 for p in positions], by_country["all_sms_rub"], width=0.4, label="all SMS")
ax.bar(
    [p + 0.2 for p in positions],
    by_country["social_first_rub"],
    width=0.4,
    label="social first, SMS fallback",
)
ax.set_xticks(list(positions), by_country["iso"].to_list())
ax.set_title(f"Cost of {NOTIFICATIONS_PER_NUMBER:g} notification(s) a number, by country")
ax.set_xlabel("country")
ax.set_ylabel("cost, RUB")
ax.legend()
plt.show()

# %% [markdown]
# ## How the saving grows with coverage
#
# The same traffic and prices, with the share of numbers reachable in VK or OK varied.

# %%
coverages = [0.2, 0.4, 0.6, 0.8, 1.0]
savings = [
    analytics.cost_against_sms(
        traffic, prices, as_of, countries, coverage=share, delivered_share=DELIVERED_SHARE
    ).total.item(0, "saving_share")
    for share in coverages
]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(coverages, savings, marker="o")
ax.set_title(f"Saving against all-SMS ({DELIVERED_SHARE:.0%} delivered within the TTL)")
ax.set_xlabel("coverage: share of numbers with an active VK or OK account")
ax.set_ylabel("saving share")
plt.show()

# %% [markdown]
# ## Coverage by country
#
# Monthly users of VK and OK per country (the brief's audience table). The union of the two
# networks lies between the larger audience and their sum; the brief gives subscribers no
# figure, so the coverage the costs assume is set above.

# %%
coverage = analytics.country_coverage(countries, COVERAGE)
print(f"countries in the audience table: {coverage.height}")
positions = range(coverage.height)
fig, ax = plt.subplots(figsize=(10, 4))
ax.bar(
    [p - 0.2 for p in positions],
    coverage["vk_monthly_users_m"].fill_null(0),
    width=0.4,
    label="VK",
)
ax.bar(
    [p + 0.2 for p in positions],
    coverage["ok_monthly_users_m"].fill_null(0),
    width=0.4,
    label="OK (0: no figure)",
)
ax.set_xticks(list(positions), coverage["iso"].to_list())
ax.set_yscale("log")
ax.set_title("Monthly users by country (DESIGN §11)")
ax.set_xlabel("country")
ax.set_ylabel("monthly users, millions (log scale)")
ax.legend()
plt.show()
coverage
