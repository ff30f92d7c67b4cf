"""Every notebook runs headless on a small generated history, and prints the figures that the
production functions give (DESIGN §2: notebooks are executed by the test suite)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import jupytext
import pytest
import sqlalchemy as sa
from nbclient import NotebookClient

from ownership.channels import Channel
from pipelines import analytics
from pipelines.evaluate import evaluate
from pipelines.paths import PROJECT_ROOT
from pipelines.reference import load_countries, load_prices
from pipelines.scoring import ScoreRequest, score
from pipelines.synth import generate
from store.database import upgrade
from tests.integration.conftest import Day, Demo

pytestmark = pytest.mark.integration

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.py"))
CELL_TIMEOUT_S = 120


def run_notebook(path: Path, **variables: str) -> str:
    """What the notebook printed, once it ran to the end without an error, with the
    environment variables given (its inputs)."""
    # no figure needs to reach a display here
    environment = {**os.environ, "MPLBACKEND": "agg", **variables}
    notebook = jupytext.read(path)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute(env=environment)
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )


@pytest.fixture(scope="session")
def printed(demo: Demo, day: Day) -> dict[str, str]:
    """What each notebook printed, by name, over the demo's history and day."""
    return {
        path.stem: run_notebook(
            path,
            OWNERSHIP_SCORES_DIR=str(demo.scores),
            OWNERSHIP_HISTORY_DIR=str(demo.events),
            OWNERSHIP_NOTIFICATIONS_URL=day.store_url,
        )
        for path in NOTEBOOKS
    }


def printed_value(text: str, label: str) -> str:
    found = re.search(rf"^{re.escape(label)}: (.+)$", text, re.MULTILINE)
    assert found, f"the notebook printed no {label!r}"
    return found.group(1)


def test_the_notebooks_are_the_three_analysts_use() -> None:
    assert [path.stem for path in NOTEBOOKS] == ["delivery_funnel", "ownership_risk", "savings"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_each_notebook_is_paired_with_an_ipynb_of_the_same_cells(path: Path) -> None:
    script, paired = jupytext.read(path), jupytext.read(path.with_suffix(".ipynb"))

    assert [(cell.cell_type, cell.source) for cell in paired.cells] == [
        (cell.cell_type, cell.source) for cell in script.cells
    ], f"run `jupytext --sync {path.relative_to(PROJECT_ROOT)}`"


def test_the_risk_notebook_shows_the_manifest_statuses(printed: dict[str, str], demo: Demo) -> None:
    manifest = analytics.read_manifest(demo.scores)
    text = printed["ownership_risk"]

    assert printed_value(text, "numbers scored") == str(manifest["numbers"])
    share = manifest["statuses"]["owner_changed"] / manifest["numbers"]
    assert printed_value(text, "owner_changed share") == f"{share:.4f}"


def test_the_risk_notebook_shows_reasons_and_recency(printed: dict[str, str], demo: Demo) -> None:
    text = printed["ownership_risk"]
    reasons = analytics.reason_frequency(demo.scores)
    recency = analytics.owner_since_recency(demo.scores)

    assert printed_value(text, "most frequent reason") == reasons.item(0, "reason")
    for band, count in recency.select("band", "owner_changed").iter_rows():
        label = f"owner_changed, holder since within the {band} band"
        assert printed_value(text, label) == str(count)


def test_the_risk_notebook_measures_against_the_truth(printed: dict[str, str], demo: Demo) -> None:
    evaluation = evaluate(demo.scores, demo.events / "truth")
    text = printed["ownership_risk"]

    assert evaluation.roc_auc is not None and evaluation.precision is not None
    assert printed_value(text, "ROC AUC") == f"{evaluation.roc_auc:.4f}"
    assert printed_value(text, "precision of owner_changed") == f"{evaluation.precision:.4f}"


def test_the_savings_notebook_costs_every_number_at_its_country_price(
    printed: dict[str, str], demo: Demo
) -> None:
    # Priced here number by number through the core, not through the analytics queries.
    countries, prices = load_countries(), load_prices()
    as_of = analytics.scores_as_of(demo.scores)
    social = analytics.BRIEF_COVERAGE * analytics.BRIEF_DELIVERED_WITHIN_TTL
    all_sms = social_first = 0.0
    for phone in analytics.uniform_traffic(demo.scores).get_column("phone"):
        country = countries.country_of(phone)
        sms, vk, ok = (float(prices.price(country, c, as_of)) for c in Channel)
        vk_share = country.vk_share_of_social
        all_sms += sms
        social_first += (1 - social) * sms + social * (vk_share * vk + (1 - vk_share) * ok)
    text = printed["savings"]

    assert printed_value(text, "all-SMS cost") == f"{all_sms:.2f} RUB"
    assert printed_value(text, "social-first cost") == f"{social_first:.2f} RUB"
    assert printed_value(text, "saving share") == f"{1 - social_first / all_sms:.4f}"
    assert printed_value(text, "notifications without a price") == "0"
    assert printed_value(text, "countries in the audience table") == str(len(countries))


def test_the_funnel_notebook_shows_the_day_beside_the_published_figures(
    printed: dict[str, str], day: Day
) -> None:
    text = printed["delivery_funnel"]
    funnel = analytics.delivery_funnel(day.store_url)

    assert printed_value(text, "notifications accepted") == str(day.summary.notifications)
    for stage, count in funnel.stages.select("stage", "notifications").iter_rows():
        assert printed_value(text, stage) == str(count)
    for measure, label, share in funnel.timing.select("measure", "label", "share").iter_rows():
        assert printed_value(text, f"{measure} within {label}") == f"{share:.4f}"


def test_the_funnel_notebook_shows_fallbacks_and_the_bill(
    printed: dict[str, str], day: Day
) -> None:
    text = printed["delivery_funnel"]
    reasons = analytics.fallbacks_by_reason(day.store_url)
    total = analytics.billed_against_sms(day.store_url, load_prices()).total.row(0, named=True)

    assert printed_value(text, "sent by SMS") == str(reasons["notifications"].sum())
    assert printed_value(text, "most frequent fallback reason") == reasons.item(0, "reason")
    assert printed_value(text, "all-SMS cost") == f"{total['all_sms_rub']:.2f} RUB"
    assert printed_value(text, "billed cost") == f"{total['billed_rub']:.2f} RUB"
    assert printed_value(text, "saving share") == f"{total['saving_share']:.4f}"


def test_the_risk_notebook_shows_na_for_the_measures_a_truth_without_changes_cannot_give(
    tmp_path: Path,
) -> None:
    # ten numbers of seed 1: no owner changed, so no precision, recall or AUC of owner_changed
    summary = generate(tmp_path / "events", phones=10, seed=1)
    score(ScoreRequest(tmp_path / "events", tmp_path / "scores", as_of=summary.end))
    evaluation = evaluate(tmp_path / "scores", tmp_path / "events" / "truth")
    assert (evaluation.changed, evaluation.roc_auc, evaluation.precision) == (0, None, None)

    text = run_notebook(
        NOTEBOOKS_DIR / "ownership_risk.py",
        OWNERSHIP_SCORES_DIR=str(tmp_path / "scores"),
        OWNERSHIP_HISTORY_DIR=str(tmp_path / "events"),
    )

    assert printed_value(text, "ROC AUC") == "n/a"
    assert printed_value(text, "precision of owner_changed") == "n/a"
    assert printed_value(text, "recall of owner_changed") == "n/a"


def test_the_funnel_notebook_runs_to_the_end_on_an_empty_store(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade(store_url)

    text = run_notebook(NOTEBOOKS_DIR / "delivery_funnel.py", OWNERSHIP_NOTIFICATIONS_URL=store_url)

    assert printed_value(text, "notifications accepted") == "0"
    assert printed_value(text, "delivered within 1 min") == "no data"
    assert printed_value(text, "sent by SMS") == "0"
    assert printed_value(text, "nothing to bill") == "the store holds no notification"


def test_the_funnel_notebook_tells_bills_kept_of_forgotten_notifications(
    tmp_path: Path, day: Day
) -> None:
    # a store past its retention: the ledger keeps every bill, the notifications are gone
    store = tmp_path / "forgotten.db"
    store.write_bytes(Path(day.store_url.removeprefix("sqlite:///")).read_bytes())
    engine = sa.create_engine(f"sqlite:///{store}")
    with engine.begin() as connection:
        connection.execute(sa.text("delete from notification_events"))
        connection.execute(sa.text("delete from verification_codes"))
        connection.execute(sa.text("delete from notifications"))
    engine.dispose()

    text = run_notebook(
        NOTEBOOKS_DIR / "delivery_funnel.py", OWNERSHIP_NOTIFICATIONS_URL=f"sqlite:///{store}"
    )

    assert printed_value(text, "nothing to bill").startswith("the store keeps ")
    assert "which were forgotten" in printed_value(text, "nothing to bill")


def test_the_savings_notebook_has_no_saving_to_show_on_no_traffic(demo: Demo) -> None:
    text = run_notebook(
        NOTEBOOKS_DIR / "savings.py",
        OWNERSHIP_SCORES_DIR=str(demo.scores),
        OWNERSHIP_NOTIFICATIONS_PER_NUMBER="0",
    )

    assert printed_value(text, "notifications") == "0"
    assert printed_value(text, "saving share") == "no data"


def test_the_risk_notebook_tells_a_missing_history_folder_from_one_without_a_truth(
    demo: Demo, tmp_path: Path
) -> None:
    text = run_notebook(
        NOTEBOOKS_DIR / "ownership_risk.py",
        OWNERSHIP_SCORES_DIR=str(demo.scores),
        OWNERSHIP_HISTORY_DIR=str(tmp_path / "histroy"),
    )

    assert printed_value(text, "no history folder at " + str(tmp_path / "histroy")) == (
        "the evaluation is skipped"
    )
