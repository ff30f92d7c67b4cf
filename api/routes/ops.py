"""`GET /healthz` and `GET /metrics`: liveness and Prometheus metrics, without auth."""

from __future__ import annotations

from datetime import UTC

from fastapi import APIRouter, Request, Response

from api.deps import AuthenticatedClientDep
from api.observability import SNAPSHOT_AS_OF, SNAPSHOT_BYTES, SNAPSHOT_NUMBERS, render_metrics
from api.schemas import ErrorInfo, Health, Pong
from api.serving import SnapshotUnavailableError
from pipelines.snapshot import EPOCH

router = APIRouter(tags=["operations"])


def _observe_snapshot(request: Request) -> Health:
    try:
        snapshot = request.app.state.snapshots.current()
    except SnapshotUnavailableError:
        return Health(status="no_snapshot", snapshot_as_of=None, snapshot_numbers=0)
    if snapshot.as_of is not None:
        SNAPSHOT_AS_OF.set((snapshot.as_of - EPOCH).total_seconds())
    SNAPSHOT_NUMBERS.set(snapshot.count)
    SNAPSHOT_BYTES.set(snapshot.size_bytes)
    as_of = snapshot.as_of.replace(tzinfo=UTC) if snapshot.as_of else None
    return Health(status="ok", snapshot_as_of=as_of, snapshot_numbers=snapshot.count)


@router.get("/healthz", response_model=Health)
async def healthz(request: Request) -> Health:
    return _observe_snapshot(request)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    _observe_snapshot(request)
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)


@router.post(
    "/v1/ping",
    response_model=Pong,
    responses={status: {"model": ErrorInfo} for status in (401, 403)},
)
async def ping(_client: AuthenticatedClientDep) -> Pong:
    """A constant answer behind the same auth as every call: to test a client's signing, and
    the bench's measure of what the service costs before it looks anything up."""
    return PONG


PONG = Pong(pong=True)
