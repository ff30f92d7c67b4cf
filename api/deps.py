"""What routes depend on, as `Annotated` aliases; tests swap them with `dependency_overrides`.

Everything here reads what the app's lifespan built (`app.state`), never global settings.
Dependencies that do not block are `async`: FastAPI runs a plain `def` one in its thread pool,
a hop that costs more than the work.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.openapi.models import APIKey, HTTPBase
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from pydantic import SecretStr

from api.auth import AuthenticatedClient, Authenticator
from api.error_codes import ErrorCode
from api.errors import ApiError, unavailable
from api.rate_limit import ClientRateLimit, too_many_requests
from delivery.events import InboundEvents
from delivery.gateway_signatures import GatewaySignatures, SignatureError
from delivery.notify import NotifyService
from delivery.overlay import LiveOverlay
from delivery.templates import TemplateDesk
from ownership.channels import SOCIAL_CHANNELS, Channel
from ownership.policy import Policy
from pipelines.snapshot import Snapshot

log = logging.getLogger(__name__)


# where the client a call was authenticated as is kept: a key of the request's scope that only
# OAuth1Signed writes (`request.state` starts as a copy of the lifespan's, and any middleware
# may write there)
SIGNED_BY = "ownership.signed_by"


class OAuth1Signed(SecurityBase):
    """The client that signed this call with OAuth 1.0a; `AuthError` (401/403) otherwise.

    A security scheme, so that the OpenAPI document says how every client call is signed.
    The signature covers the URL the client called, path as sent (percent-encoded): behind a
    balancer, `OWNERSHIP_FORWARDED_ALLOW_IPS` names it, so that the scheme it was called with
    and the caller's address (which the allow-list checks) are taken from its headers.
    On a route of `AuthenticatedFirst` the call is authenticated before FastAPI reads its body,
    and the dependency answers with the client named then (kept in the request's scope, where
    only this class writes it): checked again, the call would find its own nonce spent.
    """

    def __init__(self) -> None:
        self.model = HTTPBase(scheme="OAuth", description=OAUTH1_SIGNING)
        self.scheme_name = "OAuth1"

    async def __call__(self, request: Request) -> AuthenticatedClient:
        client: AuthenticatedClient | None = request.scope.get(SIGNED_BY)
        return client if client is not None else await self.authenticate(request)

    async def authenticate(self, request: Request) -> AuthenticatedClient:
        """The client that signed the call, kept in the request's scope for the dependency.

        What the URL and headers alone refuse is refused before a byte of the body is asked
        for: such a caller is not sent `100 Continue`, nor is its body waited for. A call they
        let through is read, up to the body limit (413, api.limits), before its signature.
        A signed call past its client's rate is refused 429 (api.rate_limit)."""
        authenticator: Authenticator = request.app.state.authenticator
        url = signed_url(request)
        signed = authenticator.protocol_parameters(url, request.headers)
        body = await request.body()  # Starlette keeps it; the route reads the same bytes
        client = await authenticator.authenticate_async(
            request.method,
            url,
            request.headers,
            body,
            request.client.host if request.client else "",
            signed=signed,
        )
        request.scope[SIGNED_BY] = client
        # the call's nonce was kept: the store answers (an app built without the service's
        # error handlers counts no failures)
        failures = getattr(request.app.state, "store_unreachable", None)
        if failures is not None:
            failures.works()
        # only a signed call counts against its client (its nonce is spent either way): a
        # forger cannot spend another's budget, and no bucket is kept for a made-up key
        limit: ClientRateLimit | None = getattr(request.app.state, "client_rate_limit", None)
        if limit is not None:
            wait = limit.take(client.key)
            if wait:
                raise too_many_requests(limit, wait)
        return client


class AuthenticatedFirst(APIRoute):
    """A route that authenticates its caller before FastAPI reads the body it declares.

    FastAPI parses a declared JSON body before it solves any dependency, so an unsigned call
    whose body is not JSON would be answered 400, learning of the route's shape, rather than
    401. A route of this class that depends on `AuthenticatedClientDep` authenticates first;
    its body stays declared, so that the document shows it and FastAPI reads it as any. The
    routers of client calls take it (`APIRouter(route_class=AuthenticatedFirst)`).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not _depends_on(self.dependant, authenticated_client):
            return handler

        async def authenticated_first(request: Request) -> Response:
            # a test's stand-in for the signature is called where FastAPI calls dependencies
            if authenticated_client not in request.app.dependency_overrides:
                await authenticated_client.authenticate(request)
            return await handler(request)

        return authenticated_first


def _depends_on(dependant: Dependant, call: object) -> bool:
    return any(sub.call is call or _depends_on(sub, call) for sub in dependant.dependencies)


def signed_url(request: Request) -> str:
    """The URL as the client sent it: `request.url` has the path decoded (`%D0%BF` as `п`),
    which oauthlib would encode otherwise than the client did."""
    raw_path = request.scope.get("raw_path")
    if not raw_path:
        return str(request.url)
    return str(request.url.replace(path=raw_path.decode("latin-1")))


OAUTH1_SIGNING = (
    "OAuth 1.0a, two-legged: the client's consumer key and secret, HMAC-SHA1 or HMAC-SHA256, "
    "a fresh nonce, a timestamp within OWNERSHIP_OAUTH_TIMESTAMP_SKEW_SECONDS (300 s unless "
    "the operator sets it), and `oauth_body_hash` over a JSON body; the "
    "call must come from the client's allowed addresses. The `oauth_` parameters go in the "
    "Authorization header or, as RFC 5849 §3.5.3 allows, in the query, never both."
)
authenticated_client = OAuth1Signed()


async def current_snapshot(request: Request) -> Snapshot:
    """The snapshot being served; before one is published, SnapshotUnavailableError, which
    answers 503 without the folder it was looked for in (api.errors)."""
    snapshot: Snapshot = request.app.state.snapshots.current()
    return snapshot


async def now(request: Request) -> datetime:
    """The current time, naive UTC, from the app's clock."""
    moment: datetime = request.app.state.clock()
    return moment


async def policy(request: Request) -> Policy:
    chosen: Policy = request.app.state.policy
    return chosen


async def live_overlay(request: Request) -> LiveOverlay:
    """The answers learnt since the batch, which every check reads over the snapshot."""
    overlay: LiveOverlay = request.app.state.overlay
    return overlay


async def notify_service(request: Request) -> NotifyService:
    service: NotifyService | None = getattr(request.app.state, "notify", None)
    if service is None:
        raise unavailable("the notify path is not configured in this service")
    return service


async def template_desk(request: Request) -> TemplateDesk:
    desk: TemplateDesk | None = getattr(request.app.state, "templates", None)
    if desk is None:
        raise unavailable("this server keeps no templates")
    return desk


class AdminToken(SecurityBase):
    """Admit an operator (a moderator) holding the admin token: `Authorization: Bearer …`.

    Operators are not clients: they sign nothing and are not in the clients table. With no
    token configured the admin routes do not exist (404, as any unknown path); a missing or
    wrong token is 401. The comparison takes the same time whatever the token.
    """

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            description=(
                "the server's admin token (OWNERSHIP_ADMIN_TOKEN); without one the admin "
                "routes answer 404"
            )
        )
        self.scheme_name = "AdminToken"

    async def __call__(self, request: Request) -> None:
        token: SecretStr | None = getattr(request.app.state, "admin_token", None)
        if token is None:
            raise ApiError(404, ErrorCode.NOT_FOUND, "Not Found")
        scheme, _, offered = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            offered.strip().encode(), expected
        ):
            raise ApiError(
                401,
                ErrorCode.UNAUTHENTICATED,
                "an admin route needs the admin token: Authorization: Bearer <token>",
                {"WWW-Authenticate": 'Bearer realm="admin"'},
            )


operator = AdminToken()


async def inbound_events(request: Request) -> InboundEvents:
    """Where the channels' events go: the notify service (a logging default until it is)."""
    handler: InboundEvents = request.app.state.inbound
    return handler


class GatewaySigned(SecurityBase):
    """The channel whose gateway signed this request, the Standard Webhooks way (401 else)."""

    def __init__(self, scheme_name: str) -> None:
        self.model = APIKey.model_validate(
            {
                "in": "header",
                "name": "webhook-signature",
                "description": (
                    "Standard Webhooks: `webhook-id`, `webhook-timestamp` and "
                    "`webhook-signature`, HMAC-SHA256 with the gateway's secret"
                ),
            }
        )
        self.scheme_name = scheme_name

    async def verify(self, request: Request, channel: Channel) -> Channel:
        signatures: GatewaySignatures = request.app.state.gateway_signatures
        try:
            # what the headers refuse is refused before the body is asked for
            stamp = signatures.stamp_of(channel, request.headers, request.app.state.clock())
            # Starlette keeps the body; the route reads the same bytes
            body = await request.body()
            stamp.verify(body, request.app.state.clock())
        except SignatureError as error:
            log.warning("refused an event posted as the %s gateway: %s", channel, error)
            message = f"not signed by the {channel} gateway: {error}"
            raise ApiError(401, ErrorCode.UNAUTHENTICATED, message) from error
        return channel


class NetworkGatewaySigned(GatewaySigned):
    """The social network named in the path, whose gateway signed this request (404, 401)."""

    async def __call__(self, network: str, request: Request) -> Channel:
        channel = next((c for c in SOCIAL_CHANNELS if c.value == network), None)
        if channel is None:
            raise ApiError(
                404, ErrorCode.NOT_FOUND, f"no social network is called {network[:32]!r}"
            )
        return await self.verify(request, channel)


class SmsGatewaySigned(GatewaySigned):
    async def __call__(self, request: Request) -> Channel:
        return await self.verify(request, Channel.SMS)


signed_by_network_gateway = NetworkGatewaySigned("NetworkGateway")
signed_by_sms_gateway = SmsGatewaySigned("SmsGateway")


AuthenticatedClientDep = Annotated[AuthenticatedClient, Depends(authenticated_client)]
SnapshotDep = Annotated[Snapshot, Depends(current_snapshot)]
NowDep = Annotated[datetime, Depends(now)]
PolicyDep = Annotated[Policy, Depends(policy)]
LiveOverlayDep = Annotated[LiveOverlay, Depends(live_overlay)]
NotifyDep = Annotated[NotifyService, Depends(notify_service)]
TemplateDeskDep = Annotated[TemplateDesk, Depends(template_desk)]
OperatorDep = Annotated[None, Depends(operator)]
InboundDep = Annotated[InboundEvents, Depends(inbound_events)]
SignedByGateway = Annotated[Channel, Depends(signed_by_network_gateway)]
SignedBySmsGateway = Annotated[Channel, Depends(signed_by_sms_gateway)]
