"""`ownership clients set-policy|show-policy`: a client's own notify policy (DESIGN §7), read
from an operator's YAML file (data/schemas/client_policy.yaml) and validated by the core."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.cli import UsageError, text_argument
from pipelines.clients_cli import _store
from pipelines.settings import Settings

if TYPE_CHECKING:
    from ownership.policy import Policy

KINDS = ("regular", "sensitive")
# a policy file names at most 14 actions and a freshness: a few hundred bytes
POLICY_FILE_MAX_BYTES = 64 * 1024


def add_policy_commands(actions: Any) -> None:
    set_policy = actions.add_parser(
        "set-policy",
        help="give a client its own notify policy from a YAML file, or the default back",
        description=(
            "Give a client its own notify policy (DESIGN §7) from a YAML file, or with "
            "`default` the service's again, and print the policy it now has as show-policy "
            "does. The file may set freshness_days (1 to 90) and, under rows, for any row of "
            "the policy table, the action (deliver, reverify or sms) for regular and for "
            "sensitive notifications; what it leaves out keeps the service's. A client may take "
            "more care than the default anywhere, and less only on the verified rows: "
            "OWNER_CHANGED, UNKNOWN, NO_ACTIVE_ACCOUNT and NO_MOBILE_APP stay sms, SUSPICIOUS "
            "sensitive reverify or sms. The API's workers apply it within 30 s to the client's "
            "checks and new notifications; those accepted before keep their decision."
        ),
    )
    set_policy.add_argument("name", type=text_argument, help="the client's name")
    set_policy.add_argument(
        "file", type=text_argument, help="a YAML policy file, or `default` for the service's"
    )
    set_policy.set_defaults(run=cmd_clients_set_policy)

    show = actions.add_parser(
        "show-policy",
        help="print a client's notify policy as JSON, saying where it differs from the default",
        description=(
            "Print the notify policy a client's checks and notifications are decided by, as "
            "JSON: whether it is its own (own_policy), freshness_days and the service's, and "
            "for each row of the policy table the action for regular and sensitive "
            "notifications, with the service's under `default` where the client's differs."
        ),
    )
    show.add_argument("name", type=text_argument, help="the client's name")
    show.set_defaults(run=cmd_clients_show_policy)


def cmd_clients_set_policy(args: argparse.Namespace, settings: Settings) -> int:
    from ownership.client_policy import PolicyFileError, read_policy_file
    from store.client_policy import set_notify_policy
    from store.clients import ClientRegistrationError

    document = None
    if args.file != "default":
        try:
            document = read_policy_file(_read_yaml(Path(args.file))).document() or None
        except PolicyFileError as error:
            raise UsageError(f"{args.file}: {error}") from error
        # a file that changes nothing (`{}`) is the service's policy, stored as such
    with _store(settings) as sessions:
        try:
            with sessions.begin() as session:
                set_notify_policy(session, args.name, document)
        except ClientRegistrationError as error:
            raise UsageError(str(error)) from error
    print(json.dumps(_shown(args.name, document, settings), indent=2))
    return 0


def cmd_clients_show_policy(args: argparse.Namespace, settings: Settings) -> int:
    from ownership.client_policy import PolicyFileError
    from store.client_policy import notify_policy_named
    from store.clients import ClientRegistrationError

    with _store(settings) as sessions, sessions() as session:
        try:
            document = notify_policy_named(session, args.name)
        except ClientRegistrationError as error:
            raise UsageError(str(error)) from error
    try:
        shown = _shown(args.name, document, settings)
    except PolicyFileError as error:  # stored by a release that allowed what this one does not
        raise UsageError(f"the stored policy of {args.name!r} is refused now: {error}") from error
    print(json.dumps(shown, indent=2))
    return 0


def _read_yaml(path: Path) -> object:
    import yaml

    if path.exists() and not path.is_file():  # a FIFO would block the read for ever
        raise UsageError(f"cannot read the policy file {path}: it is not a file")
    try:
        with path.open("rb") as file:
            data = file.read(POLICY_FILE_MAX_BYTES + 1)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read the policy file {path}: {error}") from error
    if len(data) > POLICY_FILE_MAX_BYTES:
        raise UsageError(
            f"{path} is longer than a policy file can be ({POLICY_FILE_MAX_BYTES:,} bytes)"
        )
    try:
        return yaml.load(text, Loader=_strict_loader())  # a SafeLoader, stricter
    except RecursionError:
        raise UsageError(f"{path} is nested deeper than a policy file can be") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise UsageError(f"{path} is not YAML{at}: {getattr(error, 'problem', error)}") from None


def _strict_loader() -> type[Any]:
    """PyYAML's safe loader without aliases (a few lines of them expand to gigabytes), without
    a key given twice (which would keep the last without a word), and with whole numbers only
    as decimals (YAML 1.1 reads `030` as 24 and `1:00` as 60)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_decimal_int(self, node: Any) -> int:
            text = str(self.construct_scalar(node))
            if not re.fullmatch(r"[-+]?[0-9]+", text) or text.lstrip("+-")[:-1].startswith("0"):
                raise yaml.constructor.ConstructorError(
                    None, None, f"{text!r} is no whole number written in decimal", node.start_mark
                )
            return int(text)

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, "a policy file takes no aliases (*name)", event.start_mark
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[object] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool):
                    continue  # the safe loader refuses an unhashable key itself
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{key!r} is given twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_decimal_int)
    return StrictLoader


def _shown(name: str, document: Mapping[str, Any] | None, settings: Settings) -> dict[str, Any]:
    """The policy the client's notifications are decided by, rows differing from the
    service's carrying the service's actions under `default`."""
    from ownership.client_policy import client_policy
    from ownership.policy import Policy, PolicyRow

    service = Policy(freshness=timedelta(days=settings.freshness_days))
    policy = service if document is None else client_policy(document, service)
    rows: dict[str, Any] = {}
    for row in PolicyRow:
        actions: dict[str, Any] = _actions(policy, row)
        default = _actions(service, row)
        if actions != default:
            actions["default"] = default
        rows[row.value] = actions
    return {
        "name": name,
        "own_policy": document is not None,
        "freshness_days": policy.freshness.days,
        "default_freshness_days": service.freshness.days,
        "rows": rows,
    }


def _actions(policy: Policy, row: Any) -> dict[str, str]:
    return {kind: policy.actions[row, kind == "sensitive"].value for kind in KINDS}
