"""A client's own notify policy in the store (`ownership clients set-policy|show-policy`): the
validated document of its policy file (ownership.client_policy), or null for the service's.
The API's workers read it with the client's record, so a change reaches them within 30 s."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from store.clients import _client_named


def set_notify_policy(session: Session, name: str, document: Mapping[str, Any] | None) -> None:
    """Give the client named `name` its own policy (a `PolicyFile.document()`), or with None
    the service's again; the caller commits."""
    _client_named(session, name).notify_policy = None if document is None else dict(document)


def notify_policy_named(session: Session, name: str) -> Mapping[str, Any] | None:
    """The stored policy document of the client named `name`; None: it has the service's."""
    return _client_named(session, name).notify_policy
