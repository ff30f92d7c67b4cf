"""`GET /healthz` and `GET /metrics`: liveness and Prometheus metrics, without auth."""

from __future__ import annotations

from datetime import UTC

from fastapi import APIRouter, Request, Response
from prometheus_client.registry import Collector

from api.deps import AuthenticatedClientDep, AuthenticatedFirst
from api.observability import SnapshotGauges, render_metrics
from api.schemas import RATE_LIMITED, ErrorInfo, Health, Pong
from api.serving import SnapshotUnavailableError
from pipelines.snapshot import EPOCH

router = APIRouter(tags=["operations"], route_class=AuthenticatedFirst)
METRICS_ANSWER = "The Prometheus text exposition format (`text/plain; version=...`)"


@router.get("/healthz", response_model=Health)
# HEAD too, as balancers' health checks often ask; the document lists the GET alone
@router.head("/healthz", response_model=Health, include_in_schema=False)
async def healthz(request: Request) -> Health:
    try:
        snapshot = request.app.state.snapshots.current()
    except SnapshotUnavailableError:
        return Health(status="no_snapshot", snapshot_as_of=None, snapshot_numbers=0)
    as_of = snapshot.as_of.replace(tzinfo=UTC) if snapshot.as_of else None
    return Health(status="ok", snapshot_as_of=as_of, snapshot_numbers=snapshot.count)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": METRICS_ANSWER,
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics (README, "Metrics").

    Synchronous, so FastAPI runs it on a worker thread: the store's figures are read from
    the database, which must not hold up the event loop that answers the checks."""

    def snapshot_now() -> tuple[float | None, int, int] | None:
        try:
            snapshot = request.app.state.snapshots.current()
        except SnapshotUnavailableError:
            return None
        as_of = (snapshot.as_of - EPOCH).total_seconds() if snapshot.as_of else None
        return as_of, snapshot.count, snapshot.size_bytes

    collectors: list[Collector] = [SnapshotGauges(snapshot_now)]
    if request.app.state.notify_gauges is not None:
        collectors.append(request.app.state.notify_gauges)
    body, content_type = render_metrics(*collectors)
    return Response(body, media_type=content_type)


@router.post(
    "/v1/ping",
    response_model=Pong,
    responses={**{status: {"model": ErrorInfo} for status in (401, 403)}, **RATE_LIMITED},
)
async def ping(_client: AuthenticatedClientDep) -> Pong:
    """A constant answer behind the same auth as every call: to test a client's signing, and
    the bench's measure of what the service costs before it looks anything up."""
    return PONG


PONG = Pong(pong=True)
