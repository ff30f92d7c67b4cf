"""Benchmark automatic template moderation on the submissions that cost it most.

One signed request may carry a template with many placeholders, each with long samples (the
API bounds the body, not the samples' share of it). In one run, medians of --repeats:
  - `moderate` on N placeholders × one 10,000-character sample, full of words a rule
    matches and an exception excuses ("начислен бонус"), for N in --placeholders;
  - `moderate` on an everyday bank template, the common case;
  - `moderate_message` on the same everyday template and its params (each notification).

    python bench/bench_moderation.py --placeholders 10 20 50 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from functools import partial

from ownership.moderation import ModerationRules, TemplateDraft, moderate, moderate_message
from pipelines.moderation_rules import load_moderation_rules

EVERYDAY = "Оплата #sum# ₽ в #shop# по карте *#card#. Доступно: #balance# ₽"
EVERYDAY_PARAMS = {"sum": "1 250,00", "shop": "ПЯТЁРОЧКА 1234", "card": "4421", "balance": "18 300"}


def median_seconds(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def costly_draft(placeholders: int) -> TemplateDraft:
    names = [f"p{index}" for index in range(placeholders)]
    text = "Ваш заказ " + " ".join(f"#{name}#" for name in names)
    samples = {name: ("начислен бонус " * 700)[:10_000] for name in names}
    return TemplateDraft.of(text, "transaction", samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--placeholders", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rules: ModerationRules = load_moderation_rules()
    figures: dict[str, float] = {}
    for count in args.placeholders:
        figures[f"costly_{count}_placeholders_s"] = median_seconds(
            partial(moderate, costly_draft(count), rules), args.repeats
        )
    everyday = TemplateDraft.of(EVERYDAY, "transaction", {})
    figures["everyday_template_ms"] = 1000 * median_seconds(
        lambda: moderate(everyday, rules), args.repeats
    )
    figures["everyday_message_ms"] = 1000 * median_seconds(
        lambda: moderate_message(everyday, EVERYDAY_PARAMS, rules), args.repeats
    )
    print(json.dumps({name: round(value, 4) for name, value in figures.items()}, indent=2))


if __name__ == "__main__":
    main()
