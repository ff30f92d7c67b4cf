"""`ownership templates …`: the moderators' queue and their decisions (DESIGN §7)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pipelines.cli import UsageError, text_argument
from pipelines.clients_cli import _store
from pipelines.settings import Settings

if TYPE_CHECKING:
    from delivery.templates import TemplateDesk
    from store.templates import TemplateRecord

STATUSES = ("pending_moderation", "approved", "rejected", "all")


def add_templates_commands(commands: Any) -> None:
    templates = commands.add_parser(
        "templates",
        help="moderate message templates",
        description=(
            "Moderate message templates: list the queue, approve or reject. The client is told "
            "the outcome by a template.status webhook."
        ),
    )
    actions = templates.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser(
        "list",
        help="list templates as JSON, oldest first",
        description=(
            "List templates as JSON, oldest first, a page at a time; when more follow, a note "
            "on stderr gives the --after that lists them."
        ),
    )
    listing.add_argument(
        "--status",
        choices=STATUSES,
        default="pending_moderation",
        help="which templates (default: those waiting for a moderator)",
    )
    listing.add_argument(
        "--limit",
        type=int,
        default=None,
        help="at most this many (default 100, at most 1,000)",
    )
    listing.add_argument(
        "--after",
        type=text_argument,
        default=None,
        metavar="ID",
        help="those listed after this template (the last one of the page before)",
    )
    listing.set_defaults(run=cmd_templates_list)

    for name, needs_note in (("approve", False), ("reject", True)):
        decide = actions.add_parser(
            name,
            help=f"{name} a template waiting for a moderator",
            description=f"{name.capitalize()} a template waiting for a moderator; print it.",
        )
        decide.add_argument("id", type=text_argument, help="the template's id (tpl_…)")
        decide.add_argument(
            "--note",
            type=text_argument,
            required=needs_note,
            help="shown to the client" + (" (required: say why)" if needs_note else ""),
        )
        decide.add_argument(
            "--by",
            type=text_argument,
            default=None,
            help="the moderator's name, at most 80 characters (default: the login name)",
        )
        decide.set_defaults(run=cmd_templates_decide, decision=name)


def cmd_templates_list(args: argparse.Namespace, settings: Settings) -> int:
    from ownership.moderation import TemplateStatus
    from store.templates import MAX_PAGE_SIZE, PAGE_SIZE, TemplateNotFoundError

    status = None if args.status == "all" else TemplateStatus(args.status)
    limit = PAGE_SIZE if args.limit is None else args.limit
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise UsageError(f"--limit is 1 to {MAX_PAGE_SIZE}, not {limit}")
    with _desk(settings) as desk:
        try:
            page = desk.list(status, limit=limit, after=args.after)
        except TemplateNotFoundError as error:
            raise UsageError(str(error.args[0])) from error
        names = desk.client_names(record.client_key for record in page.records)
    _print_json([_public(record, names) for record in page.records])
    if page.next_after:
        # on stderr, so that the JSON on stdout stays one document a script can read
        print(
            f"more templates follow: ownership templates list --status {args.status} "
            f"--limit {limit} --after {page.next_after}",
            file=sys.stderr,
        )
    return 0


def cmd_templates_decide(args: argparse.Namespace, settings: Settings) -> int:
    from ownership.moderation import Decision
    from store.templates import TemplateAlreadyDecidedError, TemplateNotFoundError

    moderator = _checked_decision(args.decision, args.note, args.by or _login_name())
    with _desk(settings) as desk:
        try:
            record = desk.decide(
                args.id, Decision(args.decision), note=args.note, by=f"cli:{moderator}"
            )
        except (TemplateNotFoundError, TemplateAlreadyDecidedError) as error:
            raise UsageError(str(error.args[0])) from error
        names = desk.client_names([record.client_key])
    _print_json(_public(record, names))
    return 0


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError) as error:  # no USER or LOGNAME, and no passwd entry (a container)
        raise UsageError("cannot tell who you are (no login name): give --by NAME") from error


def _checked_decision(decision: str, note: str | None, moderator: str) -> str:
    """`moderator`, once the decision is held to the admin route's bounds (a note of at most
    2,000 characters, a name of at most 80, no control characters): the store keeps no more,
    and one way to decide should not take what the other refuses."""
    from pydantic import ValidationError

    from api.template_schemas import TemplateDecisionCreate

    try:
        TemplateDecisionCreate.model_validate(
            {"decision": decision, "note": note, "moderator": moderator}
        )
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            field = str(problem["loc"][0]) if problem["loc"] else ""
            option = {"note": "--note", "moderator": "--by"}.get(field, "the decision")
            problems.append(f"{option}: {problem['msg'].removeprefix('Value error, ')}")
        raise UsageError("; ".join(problems)) from None
    return moderator


def _print_json(document: Any) -> None:
    # as written, not \u-escaped: notes and templates are mostly Cyrillic
    print(json.dumps(document, indent=2, ensure_ascii=False))


@contextmanager
def _desk(settings: Settings) -> Iterator[TemplateDesk]:
    """The CLI's composition root for templates: the migrated store and the desk over it."""
    from delivery.templates import build_template_desk
    from pipelines.moderation_rules import ModerationRulesError

    if settings.clock_speed != 1 and settings.clock_anchor is None:
        # on stderr, so that the JSON on stdout stays one document a script can read
        print(
            f"note: OWNERSHIP_CLOCK_SPEED={settings.clock_speed:g} without "
            "OWNERSHIP_CLOCK_ANCHOR starts this command's own clock at the real time now, not the "
            "service's: a decision is stamped on it; give OWNERSHIP_CLOCK_ANCHOR and "
            "OWNERSHIP_CLOCK_START as the service has them",
            file=sys.stderr,
        )
    with _store(settings) as sessions:
        try:
            desk = build_template_desk(settings, sessions)
        except ModerationRulesError as error:
            raise UsageError(str(error)) from error
        yield desk


def _public(record: TemplateRecord, client_names: dict[str, str]) -> dict[str, Any]:
    # the shape the admin routes answer with
    from api.template_schemas import TemplateForModerator

    return TemplateForModerator.of_client(record, client_names).model_dump(mode="json")
