"""A simulated day of notifications (DESIGN §7): the notify path with the channel simulators on a
virtual clock, over the numbers of a scored history, into a store the analysts then read.

One client with two approved templates sends `notifications` notifications, spread evenly at
random over a day, to numbers drawn from the scores; the traffic mixes regular and sensitive
notifications (half of them re-verified by an SMS code rather than Yes or No), TTLs,
`mobile_only` and `fallback: none` (`DayMix`). The `NotifyService` carries
them through the real simulators of `build_channels` (VK and OK on the published curve, SMS),
the accounts they know read from the history. The clock jumps from one moment that matters to
the next (an arrival, a simulator's next event, a TTL running out), so a day and the 24 h that
settle it take seconds: at each, arrivals are accepted and dispatched, the simulators emit what
is due, and TTLs that ran out are swept. It stops when every notification has its outcome.

Seeded: the same history, scores, count and seed give the same day.
"""

from __future__ import annotations

import heapq
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import Engine, func, inspect, select

from delivery import records
from delivery.channels.accounts import AccountDirectory
from delivery.channels.schedule import Scheduled
from delivery.channels.wiring import build_channels
from delivery.clock import VirtualClock
from delivery.events import InboundEvent
from delivery.notify import NotifyRequest, NotifyService
from delivery.templates import ApprovedTemplates, TemplateDesk
from ownership.channels import Channel
from ownership.codes import ReverifyMethod
from ownership.moderation import Category, Decision, TemplateDraft
from ownership.notifications import Fallback, NotificationStatus
from ownership.policy import Policy
from pipelines.moderation_rules import load_moderation_rules
from pipelines.publish import SCORES_FILE, SNAPSHOT_FILE
from pipelines.reference import load_countries, load_prices
from pipelines.settings import Settings
from pipelines.snapshot import Snapshot
from store.clients import register_client
from store.database import make_engine, session_factory, upgrade
from store.secrets import SecretCipher
from store.tables import ClientRow

ORDER_READY = TemplateDraft.of(
    "Ваш заказ #order# готов к выдаче", Category.ORDER_STATUS, {"order": "A-123"}
)
LOGIN_CODE = TemplateDraft.of("Код для входа: #code#", Category.OTP, {"code": "4821"})
# what a sweep looks at in one call; a moment with more expirations sweeps again
SWEEP_LIMIT = 2_000
# the name of the client a simulated day sends as, before its seed
SIMULATED_CLIENT = "simulated day"


class SimulationInputError(ValueError):
    """The day cannot be simulated from these inputs; the message says why."""


@dataclass(frozen=True)
class DayMix:
    """What the day's traffic is made of. Shares are of all notifications, drawn one by one."""

    # bank-grade notifications: a number on an older proof or under doubt is re-verified first
    sensitive_share: float = 0.30
    # of the sensitive ones, those that ask for a code sent by SMS rather than Yes or No
    sms_code_share: float = 0.50
    # only the mobile app may show them
    mobile_only_share: float = 0.05
    # `fallback: none`: expired at the TTL instead of sent by SMS
    no_fallback_share: float = 0.05
    # (TTL, share): the default hour for most, an OTP's few minutes, a day for the patient
    ttls: tuple[tuple[timedelta, float], ...] = (
        (timedelta(minutes=5), 0.20),
        (timedelta(hours=1), 0.55),
        (timedelta(hours=24), 0.25),
    )
    # arrivals fall uniformly at random over this span from the start
    span: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        shares = (
            self.sensitive_share,
            self.sms_code_share,
            self.mobile_only_share,
            self.no_fallback_share,
        )
        if not all(0.0 <= share <= 1.0 for share in shares):
            raise SimulationInputError("the mix's shares are shares")
        if not self.ttls or abs(sum(share for _, share in self.ttls) - 1.0) > 1e-9:
            raise SimulationInputError("the TTL shares add up to 1")
        if self.span <= timedelta(0):
            raise SimulationInputError("arrivals need a span of time")


@dataclass(frozen=True)
class DayRequest:
    history: Path  # the history the scores came from: its `accounts` are the networks' accounts
    scores: Path  # a scores folder with snapshot.bin and scores.parquet
    store_url: str  # SQLAlchemy URL of the store to write (migrated first)
    notifications: int
    seed: int = 1
    mix: DayMix = field(default_factory=DayMix)
    # the day starts here (aware); default: the scores' as_of, so the accounts' activity holds
    start: datetime | None = None


@dataclass(frozen=True)
class DaySummary:
    client_key: str
    notifications: int
    started_at: datetime
    settled_at: datetime  # the virtual time the last notification reached its outcome
    statuses: dict[str, int]  # notifications by final status
    unsettled: int  # notifications still waiting when the simulation stopped: 0
    seconds: float  # wall time


def simulate_day(request: DayRequest, settings: Settings, cipher: SecretCipher) -> DaySummary:
    """Simulate the day into `request.store_url`; see the module."""
    began = time.perf_counter()
    if request.notifications < 1:
        raise SimulationInputError("a day needs one notification or more")
    snapshot = _snapshot(request.scores)
    start = request.start or _as_of(snapshot)
    if start.tzinfo is None:
        raise SimulationInputError("the day starts at an aware time")
    phones = _phones(request.scores)
    accounts = AccountDirectory.read_history(request.history, settings.default_region)
    _check_of_one_history(phones, accounts, request)
    clock = VirtualClock(start)
    engine = make_engine(request.store_url)
    try:
        _check_empty(engine, request.store_url)  # before migrating: a refused store is untouched
        upgrade(request.store_url)
        sessions = session_factory(engine)
        with sessions.begin() as session:
            client = register_client(
                session,
                f"{SIMULATED_CLIENT}, seed {request.seed}",
                ["127.0.0.1/32"],
                cipher,
                clock.now,
            )
        desk = TemplateDesk(sessions, load_moderation_rules(settings.moderation_rules_path))
        templates = _approved_templates(desk, client.key)
        # the simulators, whatever gateways the settings name: a simulation sends nothing out;
        # and the published curve for every number, whatever a sandbox's script forces
        channel_settings = settings.model_copy(
            update={"gateway_urls": {}, "simulator_seed": request.seed, "simulator_script": None}
        )
        inbound = _LateBound()
        channels = build_channels(channel_settings, clock=clock, inbound=inbound, accounts=accounts)
        service = NotifyService(
            engine,
            clock,
            lambda: snapshot,
            {Channel.VK: channels.vk, Channel.OK: channels.ok},
            channels.sms,
            ApprovedTemplates(desk),
            load_countries(),
            load_prices(),
            Policy(freshness=timedelta(days=settings.freshness_days)),
        )
        inbound.target = service
        simulators = [sim for sim in channels.simulators if isinstance(sim, Scheduled)]
        arrivals = _arrivals(request, phones, start, templates)
        settled_at = _run(service, clock, simulators, arrivals, client.key)
        statuses, unsettled = _outcomes(engine)
    finally:
        engine.dispose()
    return DaySummary(
        client_key=client.key,
        notifications=request.notifications,
        started_at=start,
        settled_at=settled_at,
        statuses=statuses,
        unsettled=unsettled,
        seconds=time.perf_counter() - began,
    )


def _check_empty(engine: Engine, url: str) -> None:
    """A day is simulated into a store of its own. In the service's store its people's answers
    would be real: a simulated "No" makes a number owner_changed for every client, and goes to
    the next batch as a verification. A second day in one store would be counted with the
    first, and the funnel would mix them."""
    if not inspect(engine).has_table(ClientRow.__tablename__):
        return  # a new store
    with engine.connect() as connection:
        names = connection.scalars(select(ClientRow.name).limit(3)).all()
    if not names:
        return
    shown = ", ".join(repr(name) for name in names)
    if all(name.startswith(SIMULATED_CLIENT) for name in names):
        raise SimulationInputError(
            f"the store {url} already holds a simulated day ({shown}): each day goes into a "
            "new store (remove it, or give another --store)"
        )
    raise SimulationInputError(
        f"the store {url} holds the service's own clients ({shown}): simulated answers "
        "would change live verdicts; give a store of its own (--store sqlite:///var/day.db)"
    )


class _LateBound:
    """The simulators' `InboundEvents`: the service, which is built after the channels."""

    target: NotifyService | None = None

    def handle(self, event: InboundEvent) -> None:
        if self.target is None:
            raise RuntimeError("an event came before the notify service was built")
        self.target.handle(event)


def _approved_templates(desk: TemplateDesk, client_key: str) -> dict[bool, str]:
    """The day's templates, approved at once, by whether they serve sensitive notifications."""
    return {
        sensitive: desk.decide(
            desk.submit(client_key, draft).id, Decision.APPROVE, note=None, by="simulate-day"
        ).id
        for sensitive, draft in ((False, ORDER_READY), (True, LOGIN_CODE))
    }


def _run(
    service: NotifyService,
    clock: VirtualClock,
    simulators: list[Scheduled],
    arrivals: list[tuple[datetime, NotifyRequest]],
    client_key: str,
) -> datetime:
    """Jump from one moment that matters to the next until nothing is left to happen."""
    pending = iter(arrivals)
    upcoming = next(pending, None)
    expiries: list[datetime] = []
    last = clock.now()
    while True:
        moments = [due for sim in simulators if (due := sim.next_due()) is not None]
        if upcoming is not None:
            moments.append(upcoming[0])
        if expiries:
            moments.append(expiries[0])
        if not moments:
            return last
        moment = min(moments)
        if moment > clock.now():
            clock.set(moment)
        accepted = False
        while upcoming is not None and upcoming[0] <= moment:
            request = upcoming[1]
            service.accept(client_key, request)
            heapq.heappush(expiries, moment + request.ttl)
            accepted = True
            upcoming = next(pending, None)
        if accepted:
            service.dispatch_due()
        for simulator in simulators:
            simulator.run_due()
        if expiries and expiries[0] <= moment:
            while expiries and expiries[0] <= moment:
                heapq.heappop(expiries)
            while service.sweep(limit=SWEEP_LIMIT) >= SWEEP_LIMIT:
                pass
        last = moment


def _arrivals(
    request: DayRequest,
    phones: list[str],
    start: datetime,
    templates: dict[bool, str],
) -> list[tuple[datetime, NotifyRequest]]:
    """The day's requests in time order, each with its arrival; drawn from the seed alone."""
    rng = random.Random(request.seed)
    # drawn apart, so that the day's other draws are those of the days before the choice
    asking = random.Random(f"{request.seed}|reverify")
    mix = request.mix
    ttls, weights = zip(*mix.ttls, strict=True)
    arrivals = []
    for index in range(request.notifications):
        at = start + timedelta(seconds=round(rng.uniform(0, mix.span.total_seconds()), 3))
        sensitive = rng.random() < mix.sensitive_share
        params = {"code": f"{rng.randrange(10_000):04d}"} if sensitive else {"order": f"A-{index}"}
        notify = NotifyRequest(
            request_id=f"day-{request.seed}-{index}",
            phone=rng.choice(phones),
            template_id=templates[sensitive],
            params=params,
            action_type="login" if sensitive else "order",
            action_at=at - timedelta(seconds=rng.uniform(1, 3_600)),
            ttl=rng.choices(ttls, weights)[0],
            sensitive=sensitive,
            mobile_only=rng.random() < mix.mobile_only_share,
            fallback=Fallback.NONE if rng.random() < mix.no_fallback_share else Fallback.SMS,
            reverify=(
                ReverifyMethod.SMS_CODE
                if sensitive and asking.random() < mix.sms_code_share
                else ReverifyMethod.PROMPT
            ),
        )
        arrivals.append((at, notify))
    arrivals.sort(key=lambda arrival: arrival[0])
    return arrivals


def _outcomes(engine: Engine) -> tuple[dict[str, int], int]:
    table = records.notifications
    with engine.connect() as connection:
        counted = connection.execute(
            select(table.c.status, func.count()).group_by(table.c.status)
        ).all()
    statuses = {str(status): int(count) for status, count in counted}
    # an `expired` without SMS fallback has its outcome; one with fallback would await its SMS
    waiting = {NotificationStatus.ACCEPTED, NotificationStatus.REVERIFY_PENDING}
    waiting |= {NotificationStatus.SENT, NotificationStatus.SMS_SENT}
    return statuses, sum(statuses.get(status.value, 0) for status in waiting)


def _check_of_one_history(
    phones: list[str], accounts: AccountDirectory, request: DayRequest
) -> None:
    """Refuse scores of another history than `request.history`: none of their numbers would
    have an account, and the day would go by SMS only, its funnel telling nothing."""
    if not len(accounts):
        return  # a history without accounts: every number goes by SMS, as it should
    networks = (Channel.VK, Channel.OK)
    if not any(accounts.bound(network, phone) for phone in phones for network in networks):
        raise SimulationInputError(
            f"none of the {len(phones):,} numbers scored in {request.scores} has an account in "
            f"{request.history}: the scores are of another history; score this one, or give "
            "the history they were made from"
        )


def _snapshot(scores: Path) -> Snapshot:
    path = scores / SNAPSHOT_FILE
    if not path.is_file():
        raise SimulationInputError(f"{path}: file not found; run `ownership score` first")
    return Snapshot(path)


def _as_of(snapshot: Snapshot) -> datetime:
    if snapshot.as_of is None:
        raise SimulationInputError("the snapshot has no as_of; give the day a start")
    return snapshot.as_of.replace(tzinfo=UTC)


def _phones(scores: Path) -> list[str]:
    path = scores / SCORES_FILE
    if not path.is_file():
        raise SimulationInputError(f"{path}: file not found; run `ownership score` first")
    phones = [str(phone) for phone in pq.read_table(path, columns=["phone"])["phone"].to_pylist()]
    if not phones:
        raise SimulationInputError(f"{path} scores no number")
    return sorted(phones)
