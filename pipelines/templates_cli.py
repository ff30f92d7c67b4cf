"""`ownership templates …`: the moderators' queue and their decisions (DESIGN §7)."""

from __future__ import annotations

import argparse
import getpass
import json
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
        description="List templates as JSON, oldest first.",
    )
    listing.add_argument(
        "--status",
        choices=STATUSES,
        default="pending_moderation",
        help="which templates (default: those waiting for a moderator)",
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
            help="the moderator's name (default: the login name)",
        )
        decide.set_defaults(run=cmd_templates_decide, decision=name)


def cmd_templates_list(args: argparse.Namespace, settings: Settings) -> int:
    from ownership.moderation import TemplateStatus

    status = None if args.status == "all" else TemplateStatus(args.status)
    with _desk(settings) as desk:
        print(json.dumps([_public(record) for record in desk.list(status)], indent=2))
    return 0


def cmd_templates_decide(args: argparse.Namespace, settings: Settings) -> int:
    from ownership.moderation import Decision
    from store.templates import TemplateAlreadyDecidedError, TemplateNotFoundError

    if args.note is not None and not args.note.strip():
        raise UsageError("the note is empty; say why")
    by = f"cli:{args.by or getpass.getuser()}"
    with _desk(settings) as desk:
        try:
            record = desk.decide(args.id, Decision(args.decision), note=args.note, by=by)
        except (TemplateNotFoundError, TemplateAlreadyDecidedError) as error:
            raise UsageError(str(error.args[0])) from error
    print(json.dumps(_public(record), indent=2))
    return 0


@contextmanager
def _desk(settings: Settings) -> Iterator[TemplateDesk]:
    """The CLI's composition root for templates: the migrated store and the desk over it."""
    from delivery.templates import build_template_desk
    from pipelines.moderation_rules import ModerationRulesError

    with _store(settings) as sessions:
        try:
            desk = build_template_desk(settings, sessions)
        except ModerationRulesError as error:
            raise UsageError(str(error)) from error
        yield desk


def _public(record: TemplateRecord) -> dict[str, Any]:
    # the shape the API answers with and the template.status webhook carries
    from api.template_schemas import TemplatePublic

    return TemplatePublic.of(record).model_dump(mode="json")
