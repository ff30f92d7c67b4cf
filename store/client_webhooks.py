"""The clients' webhooks as an operator looks into them (`ownership clients webhooks`): where
they go, the waits recorded for their endpoints with what each holds back, and their backlogs
in the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from delivery.webhooks.endpoints import LiveWait, live_waits
from delivery.webhooks.outbox import Backlog, backlogs
from store.clients import ClientRegistrationError
from store.tables import ClientRow


@dataclass(frozen=True)
class ClientWebhooks:
    """A client's webhooks: where they go, the waits recorded for its endpoints that have not
    ended (each with how many of its events it holds back), and its backlog."""

    name: str
    key: str
    webhook_url: str | None
    disabled: bool
    waits: tuple[LiveWait, ...]
    backlog: Backlog


def clients_webhooks(
    session: Session, now: datetime, name: str | None = None
) -> list[ClientWebhooks]:
    """Each client's webhooks at `now` (the dispatchers' time), by name, or only those of the
    client named `name`. Three queries however many clients: the clients, the waits with what
    they hold, and the backlogs grouped by client."""
    query = select(
        ClientRow.name, ClientRow.consumer_key, ClientRow.webhook_url, ClientRow.disabled
    )
    if name is not None:
        query = query.where(ClientRow.name == name.strip())
    # ordered here, not in SQL: the databases' collations order names otherwise
    clients = sorted(session.execute(query).all(), key=lambda client: client[0])
    if name is not None and not clients:
        raise ClientRegistrationError(f"no client is named {name!r}")
    keys = None if name is None else [key for _, key, _, _ in clients]
    waits = live_waits(session.connection(), now=now, client_keys=keys)
    backlog = backlogs(session.connection(), now=now, client_keys=keys)
    return [
        ClientWebhooks(
            client, key, url, disabled, tuple(waits.get(key, ())), backlog.get(key, Backlog())
        )
        for client, key, url, disabled in clients
    ]
