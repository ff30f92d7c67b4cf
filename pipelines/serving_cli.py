"""`ownership serve` and `ownership demo`: the API, and the main job around it (DESIGN §9)."""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from shlex import quote
from typing import TYPE_CHECKING, Any, TypeVar

from pipelines.cli import (
    MAX_WORKERS,
    UsageError,
    console,
    generate_history,
    numbers_text,
    phones_argument,
    port_argument,
    score_with_progress,
    seed_argument,
    workers_argument,
)
from pipelines.logs import shown
from pipelines.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.exc import DatabaseError
    from sqlalchemy.orm import Session

    from ownership.moderation import TemplateDraft
    from store.secrets import SecretCipher

T = TypeVar("T")


def add_serving_commands(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the API (DESIGN §6)",
        description="Serve the API from the snapshot in OWNERSHIP_SCORES_DIR (DESIGN §6).",
        epilog=serve_settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=port_argument, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--workers",
        type=workers_argument,
        default=1,
        help=f"worker processes, at most {MAX_WORKERS}; they share one snapshot (default: 1)",
    )
    serve.add_argument(
        "--jobs",
        action="store_true",
        help="also run the notify path's jobs in this process (one worker only)",
    )
    serve.set_defaults(run=cmd_serve)

    demo = commands.add_parser(
        "demo",
        help="the main job: generate a history, score, evaluate, serve the API",
        description="The main job: generate a history, score it, evaluate, and serve the API.",
    )
    demo.add_argument(
        "--phones",
        type=phones_argument,
        default=50_000,
        help="numbers to generate (default 50,000)",
    )
    demo.add_argument("--seed", type=seed_argument, default=1, help="random seed (default 1)")
    demo.add_argument(
        "--dir", type=Path, default=Path("var/demo"), help="working folder (default var/demo)"
    )
    demo.add_argument(
        "--host", default="127.0.0.1", help="address to serve the API on (default 127.0.0.1)"
    )
    demo.add_argument(
        "--port",
        type=port_argument,
        default=8000,
        help="port to serve the API on (default 8000; 0 picks a free one)",
    )
    demo.add_argument(
        "--no-serve", action="store_true", help="stop after scoring instead of serving the API"
    )
    demo.set_defaults(run=cmd_demo)


# The settings that decide what `serve` serves, by field, with a few words each; the help
# spells them as variables and adds their defaults from `Settings`. A field ending in "_" stands
# for every setting it begins.
SERVE_SETTINGS: tuple[tuple[str, str], ...] = (
    ("scores_dir", "folder whose snapshot.bin is served"),
    ("database_url", "the store"),
    ("secret_key_file", "key sealing clients' secrets"),
    ("secret_key", "the key(s) themselves, instead of the file"),
    ("admin_token", "bearer token of /v1/admin/*; unset, they answer 404"),
    ("gateway_urls", 'JSON {"vk"|"ok"|"sms": URL}; none: simulated'),
    ("gateway_tokens", "JSON: the gateways' bearer tokens"),
    ("gateway_secrets", "JSON: whsec_ secrets of the gateways' events"),
    ("webhook_", "webhooks to clients: timeouts, retries"),
    ("run_jobs", "also run the notify jobs here (as --jobs)"),
    ("history_dir", "history whose accounts the simulators know"),
)


def serve_settings_help() -> str:
    """The epilog of `serve --help`: its main settings as environment variables."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    fields = Settings.model_fields
    listed = []
    for name, words in SERVE_SETTINGS:
        if name.endswith("_"):  # a family: how many settings it holds
            family = [field for field in fields if field.startswith(name)]
            listed.append((f"{prefix}{name.upper()}*", f"{words} ({len(family)} settings)"))
            continue
        default = fields[name].default  # a KeyError here: the setting was renamed
        shown = f" ({default})" if isinstance(default, str | Path) and str(default) else ""
        listed.append((f"{prefix}{name.upper()}", f"{words}{shown}"))
    width = max(len(variable) for variable, _ in listed) + 2
    lines = [f"  {variable:<{width}}{words}" for variable, words in listed]
    return "\n".join(["main settings, as environment variables (the README has all):", *lines])


def demo_environment(
    scores: Path, events: Path, store: Path, key_file: Path, as_of: str, anchor: str
) -> dict[str, str]:
    """The settings the demo serves with, over whatever the environment holds: its own
    scores, store and key, its clock, and none of an operator's nightly run or gateways (the
    demo's history is no one's, and its simulators reach no one)."""
    return {
        "OWNERSHIP_SCORES_DIR": str(scores.resolve()),
        "OWNERSHIP_HISTORY_DIR": str(events.resolve()),
        "OWNERSHIP_DATABASE_URL": sqlite_url(store),
        "OWNERSHIP_SECRET_KEY_FILE": str(key_file.resolve()),
        "OWNERSHIP_SECRET_KEY": "",
        "OWNERSHIP_CLOCK_SPEED": str(DEMO_CLOCK_SPEED),
        "OWNERSHIP_CLOCK_ANCHOR": anchor,
        "OWNERSHIP_CLOCK_START": as_of,
        "OWNERSHIP_RUN_JOBS": "true",
        "OWNERSHIP_SCORE_EVENTS_DIR": "",
        "OWNERSHIP_GATEWAY_URLS": "{}",
        "OWNERSHIP_GATEWAY_TOKENS": "{}",
        "OWNERSHIP_GATEWAY_SECRETS": "{}",
    }


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from api.main import serve

    # every API worker starts the jobs its settings ask for: with several, each would run them
    if args.workers != 1 and (args.jobs or settings.run_jobs):
        asked = "--jobs" if args.jobs else "OWNERSHIP_RUN_JOBS"
        raise UsageError(
            f"{asked} runs the notify path's jobs in the API's process: use it with one worker, "
            "or run `ownership worker` beside the API"
        )
    if args.jobs:
        import os

        os.environ["OWNERSHIP_RUN_JOBS"] = "true"  # read by the worker's settings
    from sqlalchemy.exc import DatabaseError

    from api.workers import PortInUseError

    _refuse_taken_port(args.host, args.port)
    if args.jobs or settings.run_jobs:
        check_simulator_script(settings)
    check_start_up(settings)  # it may make the key file: not for a server that cannot start
    if args.jobs or settings.run_jobs:
        from delivery.runtime import uses_simulators

        if uses_simulators(settings):
            _refuse_simulators_in_use(settings, settings.database_url)
    if not (settings.scores_dir / "snapshot.bin").exists():  # not a fault: said once it runs
        console.print(
            f"[yellow]warning:[/yellow] no snapshot in {shown(str(settings.scores_dir))} yet; "
            "checks answer 503 until `ownership score --out` publishes one there"
        )
    try:
        return serve(settings, args.host, args.port, args.workers)
    except PortInUseError as error:
        raise cannot_listen(error) from error
    except DatabaseError as error:  # the store cannot be reached or migrated
        raise store_unreachable(settings, error) from error


def _refuse_simulators_in_use(settings: Settings, database_url: str) -> None:
    """A usage error now, rather than a traceback from the server's start-up (or, for the
    demo, after it replaced the store), if another process runs the jobs on the simulators
    over the store at `database_url`."""
    from sqlalchemy.exc import DatabaseError

    from delivery.runtime import SimulatorsInUseError, simulators_held

    try:
        with simulators_held(database_url):
            pass
    except SimulatorsInUseError as error:
        raise UsageError(str(error)) from error
    except DatabaseError as error:  # the store cannot be reached
        raise store_unreachable(settings, error) from error


def check_start_up(settings: Settings) -> None:
    """Open now what a serving process opens as it starts (the moderation rules, the proxy
    variables, the secret key), so that a fault there is one line naming its setting, not a
    traceback from the startup of every API worker."""
    _check_moderation_rules(settings)
    _check_prices()
    _check_proxy_settings()
    cipher = open_cipher(settings)
    source = "OWNERSHIP_SECRET_KEY" if settings.secret_key else "OWNERSHIP_SECRET_KEY_FILE"
    unopened = _clients_sealed_otherwise(settings, cipher)
    if unopened:
        where = "" if settings.secret_key else f" ({settings.secret_key_file})"
        raise UsageError(
            f"bad setting: {source}: the key{where} does not open the secrets of the clients "
            f"{', '.join(map(repr, unopened))}; give every key they are sealed under, newest "
            "first, and `ownership clients reseal` to seal them under the newest"
        )


def check_simulator_script(settings: Settings, gateways_used: bool = True) -> None:
    """Read the simulators' script in a process about to run them (`worker`, `serve --jobs`,
    the demo), so that a bad one is one line naming the file and its line; refuse it beside a
    VK or OK gateway (`gateways_used`: not the demo's, which drops them), whose people answer
    for themselves: a sandbox's setting left in production is said at once."""
    if settings.simulator_script is None:
        return
    from delivery.channels.simulator_script import SimulatorScriptError, read_script

    real = sorted(set(settings.gateway_urls) & {"vk", "ok"}) if gateways_used else []
    if real:
        raise UsageError(
            "bad setting: OWNERSHIP_SIMULATOR_SCRIPT: scripts the VK and OK simulators, but "
            f"OWNERSHIP_GATEWAY_URLS sends {' and '.join(real)} through a real gateway; unset "
            "one of them"
        )

    try:
        read_script(settings.simulator_script)
    except SimulatorScriptError as error:
        raise UsageError(f"bad setting: OWNERSHIP_SIMULATOR_SCRIPT: {error}") from error


def _check_proxy_settings() -> None:
    from delivery.http_deadline import ProxySettingsError, check_proxy_settings

    try:
        check_proxy_settings()
    except ProxySettingsError as error:
        raise UsageError(str(error)) from error


def open_cipher(settings: Settings) -> SecretCipher:
    """The cipher of the store's secrets, from `OWNERSHIP_SECRET_KEY` or its key file; a
    fault with either is one line naming its setting (UsageError), never the key. A key file
    that does not exist is made, unless the store holds clients: a new key would open none of
    their secrets, and whatever it sealed beside them no process could open (a mistyped path,
    most likely)."""
    from store.secrets import SecretKeyError, load_cipher

    key_file = settings.secret_key_file
    if not settings.secret_key and not key_file.exists() and _clients_in_store(settings):
        raise UsageError(
            f"bad setting: OWNERSHIP_SECRET_KEY_FILE: the key file {key_file} does not exist, "
            "and the store holds clients sealed under a key; give the file of that key"
        )
    source = "OWNERSHIP_SECRET_KEY" if settings.secret_key else "OWNERSHIP_SECRET_KEY_FILE"
    try:
        return load_cipher(settings.secret_key_text(), settings.secret_key_file)
    except SecretKeyError as error:  # its message never holds the key
        raise UsageError(f"bad setting: {source}: {error}") from error
    except (OSError, UnicodeDecodeError) as error:  # a key file that cannot be made or read
        reason = error.strerror if isinstance(error, OSError) else "it is not ASCII text"
        raise UsageError(
            f"bad setting: OWNERSHIP_SECRET_KEY_FILE: cannot use the key file "
            f"{settings.secret_key_file}: {reason}"
        ) from error


def _clients_sealed_otherwise(settings: Settings, cipher: SecretCipher) -> list[str]:
    """The clients whose secrets `cipher` cannot open; none if the store cannot be read yet
    (unreachable, or not migrated): that is told when the process opens it."""
    from store.clients import clients_sealed_otherwise

    return _read_store(settings, lambda session: clients_sealed_otherwise(session, cipher), [])


def _clients_in_store(settings: Settings) -> bool:
    """Whether the store holds any client; False if it cannot be read yet."""
    from sqlalchemy import exists, select

    from store.tables import ClientRow

    return _read_store(
        settings,
        lambda session: bool(session.scalar(select(exists(ClientRow.consumer_key)))),
        False,
    )


def _read_store(settings: Settings, read: Callable[[Session], T], otherwise: T) -> T:
    """`read` on the store, or `otherwise` when it cannot be read yet (not made, unreachable,
    or not migrated): that is told when the process opens it."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from store.database import make_engine, session_factory

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return otherwise  # a store not made yet: connecting would make the file
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            return read(session)
    except SQLAlchemyError:
        return otherwise
    finally:
        engine.dispose()


def _check_prices() -> None:
    """The country table and the price list a serving process bills by, read as it will read
    them: a bad row, or a country served without an SMS price, is one line."""
    from pipelines.reference import load_countries, load_served_prices

    try:
        load_served_prices(load_countries())
    except ValueError as error:
        raise UsageError(f"bad reference data: {error}") from error


def _check_moderation_rules(settings: Settings) -> None:
    from pipelines.moderation_rules import ModerationRulesError, load_moderation_rules

    try:
        load_moderation_rules(settings.moderation_rules_path)
    except ModerationRulesError as error:  # a YAML error spans lines: joined into one
        reason = " ".join(str(error).split())
        raise UsageError(f"bad setting: OWNERSHIP_MODERATION_RULES_PATH: {reason}") from error


def demo_template() -> TemplateDraft:
    from ownership.moderation import TemplateDraft

    return TemplateDraft.of("Ваш заказ #order# готов к выдаче", "order_status", {"order": "A-17"})


def _check_demo_template(settings: Settings) -> None:
    """The moderation rules can be read, and pass the demo's own template."""
    _check_moderation_rules(settings)
    from ownership.moderation import Outcome, moderate
    from pipelines.moderation_rules import load_moderation_rules

    moderated = moderate(demo_template(), load_moderation_rules(settings.moderation_rules_path))
    if moderated.outcome is Outcome.REJECTED:
        raise UsageError(
            f"bad setting: OWNERSHIP_MODERATION_RULES_PATH: {settings.moderation_rules_path} "
            f"rejects the demo's template ({', '.join(moderated.reasons)}); run the demo with "
            "the bundled rules"
        )


def store_unreachable(
    settings: Settings, error: DatabaseError, url: str | None = None
) -> UsageError:
    """The one line for a store that cannot be reached, read (a file that is no database) or
    migrated, without its password; at `url`, or the settings' store."""
    return UsageError(f"cannot open the store at {_shown(settings, url)}: {_reason(error)}")


def refuse_a_store_not_made(settings: Settings, reads: str) -> None:
    """A command that `reads` what a service recorded does not make a SQLite store of a
    mistyped path, and answer from it as if nothing had happened there."""
    from store.database import missing_sqlite_file

    missing = missing_sqlite_file(settings.database_url)
    if missing is not None:
        raise UsageError(
            f"no store at {missing}: this command reads {reads}; check OWNERSHIP_DATABASE_URL"
        )


def recorded_store(settings: Settings, reads: str) -> Engine:
    """The store a service made, migrated, for a command that `reads` what it recorded: a
    mistyped SQLite path is refused, not made (`refuse_a_store_not_made`), and a store that
    cannot be reached, read or migrated is one line."""
    from sqlalchemy.exc import DatabaseError

    from store.database import make_engine, upgrade

    refuse_a_store_not_made(settings, reads)
    try:
        upgrade(settings.database_url)
        return make_engine(settings.database_url)
    except DatabaseError as error:
        raise store_unreachable(settings, error) from error


def store_failed(settings: Settings, error: DatabaseError) -> UsageError:
    """The one line for a statement the store refused once open (a table an older release
    left, a full disk), without the store's password."""
    return UsageError(f"the store at {_shown(settings)} failed: {_reason(error)}")


def _reason(error: DatabaseError) -> str:
    """The driver's first line of what went wrong (its SQL and parameters follow)."""
    lines = str(error.orig).strip().splitlines()
    return lines[0] if lines else type(error.orig).__name__


def _refuse_taken_port(host: str, port: int) -> None:
    """Fail now, in one line, when something already listens on the port (0 is always free)."""
    from api.workers import PortInUseError, bind_shared

    if port == 0:
        return
    try:
        bind_shared(host, port, shared=False).close()
    except PortInUseError as error:
        raise cannot_listen(error) from error


def cannot_listen(error: Exception) -> UsageError:
    """Why the server cannot listen, in one line; asking about another server only when the
    address is in use (a host that is no address of this machine is another matter)."""
    cause = error.__cause__
    in_use = isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE
    return UsageError(f"{error}; is another server running there?" if in_use else str(error))


def _free_port(host: str) -> int:
    """A port nothing listens on now, for a server that must print its address before it starts."""
    from api.workers import bind_shared

    listener = bind_shared(host, 0, shared=False)
    try:
        return int(listener.getsockname()[1])
    finally:
        listener.close()


def _shown(settings: Settings, url: str | None = None) -> str:
    """The store's URL without its password."""
    from sqlalchemy import make_url

    return make_url(url or settings.database_url).render_as_string(hide_password=True)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    if not args.no_serve:  # find out now, not after generating and scoring
        _check_demo_template(settings)  # its key is the demo's own, made in its folder
        check_simulator_script(settings, gateways_used=False)
        _check_prices()
        _check_proxy_settings()
        args.port = args.port or _free_port(args.host)
        _refuse_taken_port(args.host, args.port)
        _refuse_simulators_in_use(settings, sqlite_url(demo_store(args.dir)))
    with _demo_lock(args.dir):
        return _demo(args, settings)


@contextmanager
def _demo_lock(folder: Path) -> Iterator[None]:
    """Hold the demo folder for this run: a second demo there would replace the files, and the
    store, under the first one's server."""
    from pipelines.locks import LockHeldError, held_alone

    held = ExitStack()
    try:
        held.enter_context(held_alone(folder / ".lock"))
    except LockHeldError as error:
        raise UsageError(
            f"a demo is already running in {folder}; stop it, or give this one --dir"
        ) from error
    except OSError as error:
        raise UsageError(f"cannot use {folder} as the demo's folder: {error.strerror}") from error
    with held:
        yield


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.contracts import INPUT_KINDS
    from pipelines.evaluate import evaluate
    from pipelines.scoring import ScoreRequest

    events, scores = args.dir / "events", args.dir / "scores"
    # the demo owns its folder, and serves from a new store: verifications an earlier demo
    # exported into its history go with that history
    summary = generate_history(
        events, args.phones, args.seed, events_per_phone=None, replace_others=True
    )
    manifest = score_with_progress(
        ScoreRequest(
            events,
            scores,
            as_of=summary.end,
            rules=settings.rules(),
            max_reject_share=settings.max_reject_share,
            memory_limit=settings.memory_limit,
            threads=settings.threads,
            # a new history of its own making, not a feed that lost a kind since the last demo
            allowed_empty_kinds=frozenset(INPUT_KINDS),
        )
    )
    # flushed: to a file or a pipe, the evaluation would come only once the server stopped
    print(evaluate(scores, events / "truth").render(), flush=True)
    examples = _example_numbers(scores / "scores.parquet")
    scores = scores.resolve()  # the paths below are pasted into other terminals
    _say(
        f"\nscored {numbers_text(manifest['numbers'])} as of {manifest['as_of']}.\n"
        f"scores:   {scores / 'scores.parquet'}\nsnapshot: {scores / 'snapshot.bin'}\n"
        f"manifest: {scores / 'manifest.json'}\ntry:"
    )
    # while the demo serves, its store holds the answers given since the batch (a "No" makes
    # a number owner_changed at once): the check reads them from there
    store = None if args.no_serve else demo_store(args.dir)
    for status, phone in examples.items():
        _say(f"  {check_hint(phone, scores, store)}   # {status}")
    asked = _reverified_example(
        scores / "scores.parquet", events / "accounts", manifest["as_of"], settings.activity_days
    )
    if asked is not None:  # where a scripted answer shows (README: Channels)
        _say(
            f"  {check_hint(asked, scores, store)}   # suspicious, its account active: "
            "a sensitive notification asks its person first"
        )
    if args.no_serve:
        return 0
    return _serve_demo(args, scores, events, examples, str(manifest["as_of"]))


DEMO_CLOCK_SPEED = 60  # an hour of the notify path a minute: TTLs, delivery, reads
# the command as the hints should spell it, runnable from any folder
_OWNERSHIP = (
    str(Path(sys.executable).with_name("ownership"))
    if Path(sys.executable).with_name("ownership").exists()
    else "ownership"
)


def demo_store(folder: Path) -> Path:
    """The store a serving demo keeps in its folder."""
    return (folder / "ownership.db").resolve()


def sqlite_url(path: Path) -> str:
    """The database URL of a SQLite file, whatever characters its path holds (`?`, `%`, `#`)."""
    from sqlalchemy.engine import URL

    return URL.create("sqlite", database=str(path)).render_as_string()


def check_hint(phone: str, scores: Path, store: Path | None) -> str:
    """`ownership check` of one number, to paste into another terminal."""
    command = f"{quote(_OWNERSHIP)} check {phone} --scores {quote(str(scores))}"
    return f"OWNERSHIP_DATABASE_URL={quote(sqlite_url(store))} {command}" if store else command


def webhooks_hint(store: Path, anchor: str, as_of: str) -> str:
    """`ownership clients webhooks demo` on the demo's store and clock, to paste into another
    terminal: the clock's settings live in the demo's own process."""
    settings = {
        "OWNERSHIP_DATABASE_URL": sqlite_url(store),
        "OWNERSHIP_CLOCK_SPEED": str(DEMO_CLOCK_SPEED),
        "OWNERSHIP_CLOCK_ANCHOR": anchor,
        "OWNERSHIP_CLOCK_START": as_of,
    }
    prefix = " ".join(f"{name}={quote(value)}" for name, value in settings.items())
    return f"{prefix} {quote(_OWNERSHIP)} clients webhooks demo"


# what another terminal needs of the demo's settings to work on its store, on its clock
SHARED_WITH_OTHER_COMMANDS = (
    "OWNERSHIP_DATABASE_URL",
    "OWNERSHIP_SECRET_KEY_FILE",
    "OWNERSHIP_SECRET_KEY",  # emptied: a shell's own key would come before the demo's file
    "OWNERSHIP_SCORES_DIR",
    "OWNERSHIP_CLOCK_SPEED",
    "OWNERSHIP_CLOCK_ANCHOR",
    "OWNERSHIP_CLOCK_START",
)


def write_demo_env(path: Path, environment: dict[str, str]) -> Path:
    """A file for a shell to source (`. demo.env`) before any other `ownership` command on the
    demo's store: without the demo's clock, a moderator's decision would be stamped at the
    real time, and its webhook held until the demo's clock, weeks behind, reached it."""
    lines = [f"export {name}={quote(environment[name])}" for name in SHARED_WITH_OTHER_COMMANDS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path.resolve()


def _say(text: str) -> None:
    """Print text meant to be pasted: as it is, without rich's markup or emoji codes, which
    would change paths such as `demo [2]` or `a :smile: b`."""
    console.print(text, markup=False, emoji=False, highlight=False)


def _serve_demo(
    args: argparse.Namespace, scores: Path, events: Path, examples: dict[str, str], as_of: str
) -> int:
    """Serve the whole product on the demo's scores: a fresh store, a demo client with an
    approved template, the API, and the notify path's jobs on the channel simulators, on a
    clock that starts where the history ends and runs 60 times faster."""
    import os

    from api.main import serve
    from delivery.templates import build_template_desk
    from ownership.moderation import Decision
    from store.clients import register_client
    from store.database import make_engine, session_factory, upgrade
    from store.secrets import load_cipher

    store, key_file = demo_store(args.dir), args.dir / "secret.key"
    store.unlink(missing_ok=True)
    # the worker reads its settings from the environment
    anchor = datetime.now(UTC).isoformat()  # the demo clock's as_of, in real time
    environment = demo_environment(scores, events, store, key_file, as_of, anchor)
    os.environ.update(environment)
    demo_env = write_demo_env(args.dir / "demo.env", environment)
    settings = load_settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    cipher = load_cipher(settings.secret_key_text(), settings.secret_key_file)
    with sessions.begin() as session:
        client = register_client(session, "demo", ["127.0.0.1/32", "::1/128"], cipher)
    desk = build_template_desk(settings, sessions)
    template = desk.submit(client.key, demo_template())
    desk.decide(template.id, Decision.APPROVE, note="the demo's template", by="demo")
    engine.dispose()
    phone = examples.get("verified") or next(iter(examples.values()), "+79234567823")
    url = f"http://{args.host}:{args.port}"
    signed = f'OAuth1("{client.key}", "{client.secret}", signature_method="HMAC-SHA256"'
    auth = f"{signed}, force_include_body=True)"  # a JSON body is signed by its hash
    python = quote(sys.executable)
    call = f"{python} -c 'import requests; from requests_oauthlib import OAuth1; print("
    # the action a notification answers is at most 3 days old on the demo's clock, which runs
    # 60x from the history's end: the pasted call reads that clock when it runs
    now = (
        f'(d.datetime.fromisoformat("{as_of}") + (d.datetime.now(d.UTC) - '
        f'd.datetime.fromisoformat("{anchor}")) * {DEMO_CLOCK_SPEED}).isoformat()'
    )
    notify = {
        "request_id": REQUEST_ID,
        "phone": phone,
        "template_id": template.id,
        "params": {"order": "A-17"},
        "action": {"type": "order", "at": NOW},
        "sensitive": True,
    }
    # each paste a new notification: a request_id used again with another action time is
    # another request, which the service refuses as a conflict
    request_id = 'd.datetime.now(d.UTC).strftime("demo-%H%M%S%f")'
    notify_body = (
        _double_quoted(notify).replace(f'"{NOW}"', now).replace(f'"{REQUEST_ID}"', request_id)
    )
    _say(
        f"\nserving the API on {url} (docs: {url}/docs), with the notify path on the channel "
        f"simulators; the clock starts at {as_of} and runs {DEMO_CLOCK_SPEED}x.\n"
        f"demo client: key {client.key}, secret {client.secret}; template {template.id}\n"
        f"from another terminal, a check:\n"
        f'{call}requests.post("{url}/v1/check", json={{"phone": "{phone}", "sensitive": True}}, '
        f"auth={auth}).json())'\n"
        f"a notification:\n"
        f"{python} -c 'import requests, datetime as d; from requests_oauthlib import OAuth1; "
        f'print(requests.post("{url}/v1/notify", json={notify_body}, auth={auth}).json())\'\n'
        f"and then that notification, the id it was given in place of <id>:\n"
        f"{python} -c 'import requests, sys; from requests_oauthlib import OAuth1; print("
        f'requests.get("{url}/v1/notifications/" + sys.argv[1], auth={signed})).json())\' <id>'
        "\nthe demo client's webhooks, judged on the demo's clock:\n"
        f"{webhooks_hint(store, anchor, as_of)}\n"
        "any other command on the demo's store and clock (templates approve, clients, "
        "notifications), in a shell that first ran:\n"
        f". {quote(str(demo_env))}\nstop with Ctrl-C"
    )
    serve(settings, args.host, args.port, workers=1)
    return 0


# where the pasted notify call puts the demo clock's time, and a request_id of its own
NOW = "<now on the demo clock>"
REQUEST_ID = "<a request_id of its own>"


def _double_quoted(value: dict[str, object]) -> str:
    """A Python literal with double quotes, to sit inside a single-quoted shell argument; the
    demo's values (ids, digits, times) hold no quote of their own."""
    return repr(value).replace("'", '"')


def _reverified_example(
    scores: Path, accounts: Path, as_of: object, activity_days: int
) -> str | None:
    """A suspicious number with an account active at the history's end: the one number of the
    examples that a sensitive notification re-verifies, and so the one whose person's answer
    the simulators' script (OWNERSHIP_SIMULATOR_SCRIPT) can be seen to decide."""
    import polars as pl

    from pipelines.paths import input_files

    active_since = datetime.fromisoformat(str(as_of)).replace(tzinfo=None) - timedelta(
        days=activity_days
    )
    # glob=False: the demo's folder may be named with a pattern's characters (`[1]`)
    files = [path for path in input_files(accounts) if path.suffix == ".parquet"]
    if not files:
        return None
    active = pl.concat(
        pl.read_parquet(path, glob=False, columns=["phone", "last_seen_at"]) for path in files
    ).filter(pl.col("last_seen_at") >= active_since)
    suspicious = pl.read_parquet(scores, glob=False, columns=["phone", "status"]).filter(
        pl.col("status") == "suspicious"
    )
    found = suspicious.join(active, on="phone").select(pl.col("phone").min()).item()
    return None if found is None else str(found)


def _example_numbers(scores: Path) -> dict[str, str]:
    """One scored number of each status, to show off `ownership check`."""
    import duckdb

    rows = (
        duckdb.read_parquet(str(scores))
        .aggregate("status, min(phone)", "status")
        .order("status")
        .fetchall()
    )
    return {status: phone for status, phone in rows}
