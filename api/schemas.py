"""Wire schemas of the API (DESIGN §6), named by role and mapped to core values at the edge."""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal, TypeVar

from fastapi import Path, Response
from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StringConstraints,
    UrlConstraints,
    WithJsonSchema,
)

from api.error_codes import ErrorCode
from delivery.http_deadline import is_public
from ownership.channels import Channel
from ownership.message_text import refuse_unshowable
from ownership.notifications import (
    DEFAULT_TTL,
    MAX_SMS_VALIDITY,
    MIN_SMS_VALIDITY,
    NotificationStatus,
)
from ownership.policy import Action, PolicyRow
from ownership.verdicts import Reason, Status, whole_day_since

MAX_BULK = 10_000
CAMARA_PHONE = r"^\+[1-9][0-9]{4,14}$"


def _in_utc(moment: datetime) -> datetime:
    """The time in UTC; ValueError, which the schema answers with 400 INVALID_ARGUMENT, when
    its offset takes it out of the years a datetime holds (9999-12-31T23:59:59-05:00)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        message = f"{moment.isoformat()} is out of range: in UTC it leaves the years 1 to 9999"
        raise ValueError(message) from None


def _naive_utc(moment: datetime) -> datetime:
    """Times inside the service are naive UTC; a time with an offset is converted."""
    return moment if moment.tzinfo is None else _in_utc(moment).replace(tzinfo=None)


def _fits_in_utc(moment: datetime) -> datetime:
    """The time as sent, with its offset, once it is known that the services downstream can
    convert it to UTC."""
    if moment.tzinfo is not None:
        _in_utc(moment)
    return moment


def _offset_or_utc(moment: datetime) -> datetime:
    """The time as sent, with its offset; one sent without an offset is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else _fits_in_utc(moment)


Sent = TypeVar("Sent")


def _storable(value: Sent) -> Sent:
    """The text as sent, once it is known that the store can hold it: PostgreSQL's text and
    JSON hold no NUL character, and no store a lone surrogate. Also checks the raw text before
    a type parses it (a URL)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("the NUL character (\\u0000) is not allowed")
        refuse_lone_surrogates(value)
    return value


def refuse_lone_surrogates(text: str) -> None:
    """Refuse a lone surrogate (`\\ud800`), which JSON can escape but no store can encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{text[error.start : error.end]!a} is half of a UTF-16 pair, not a character"
        ) from None


def _without_credentials(url: AnyHttpUrl) -> AnyHttpUrl:
    """As for a client's webhook URL: the webhooks are signed, so no secret rides in the URL."""
    if url.username or url.password:
        raise ValueError("a callback URL carries no credentials: the webhooks are signed")
    return url


UtcTime = Annotated[datetime, AfterValidator(_naive_utc)]


JSON_KINDS = {list: "an array", dict: "an object", type(None): "null"}


def _a_date_as_its_end(value: object) -> object:
    """`since` as a date asks about the whole day, as the CAMARA routes read their dates: a
    change after 2025-11-20 is one later than its last moment. A number is no time: 1700000000
    would pass for Unix time, which the schema does not offer."""
    wanted = "a date or a time written as text (ISO 8601, YYYY-MM-DD first)"
    if isinstance(value, bool):
        raise ValueError(f"{wanted}, not true or false")
    # anything else the parser would take (1.7e9, ".5", "1763683200") is Unix time
    if isinstance(value, int | float) or (
        isinstance(value, str)
        and re.fullmatch(r"\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*", value)
    ):
        raise ValueError(f"{wanted}, not a number")
    if not isinstance(value, str):
        raise ValueError(f"{wanted}, not {JSON_KINDS.get(type(value), 'that')}")
    if not re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError(f"{wanted}, not {value[:40]!r}")
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return whole_day_since(date.fromisoformat(value))
        except ValueError:
            return value  # not a day of the calendar: the datetime parser says why
    return value


SinceTime = Annotated[
    datetime,
    BeforeValidator(_a_date_as_its_end),
    AfterValidator(_naive_utc),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ]
        }
    ),
]


def _calendar_date(value: object) -> object:
    """A date as CAMARA writes it, `YYYY-MM-DD`, and nothing a lax reading would also take:
    no time of day, no Unix time, no `20250601`."""
    if not (isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)):
        raise ValueError(f"must be a date written YYYY-MM-DD, not {value!r}")
    return value


CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]
# text a client sends that is stored; for the notify and template routes, not the checks
StoredText = Annotated[str, AfterValidator(_storable)]
# ids in a path or a query: one the store cannot hold (a NUL, which PostgreSQL refuses) is
# refused as any bad field is, not looked up. The bound is the text's own, so it is said in
# characters (a parameter's max_length is checked after the validator, as a count of "items")
TemplateIdText = Annotated[str, StringConstraints(max_length=32), AfterValidator(_storable)]
TemplateId = Annotated[TemplateIdText, Path(examples=["tpl_3f9a0c1d2e4b5a69"])]
NotificationId = Annotated[
    str,
    StringConstraints(max_length=40),
    AfterValidator(_storable),
    Path(examples=["ntf_5c2e9b0a7d4f1e3c8a6b2d90"]),
]
FitsInUtc = AfterValidator(_fits_in_utc)


def _a_number_of_seconds(value: object) -> object:
    # JSON's true would pass for 1 (a TTL of one second): a yes or no is not a number
    if isinstance(value, bool):
        raise ValueError("a number of seconds, not true or false")
    # " 60 " would pass for 60: a client sending text has a defect to hear of
    if isinstance(value, str):
        raise ValueError("a number of seconds, not text")
    # 1e300 is a whole number, too: out of range like 2**40, not "not an integer"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    # NaN is no JSON, but Python's parser takes it: say so in the words of the other refusals
    if isinstance(value, float) and math.isnan(value):
        raise ValueError("a number of seconds, not NaN")
    # 1e309 is valid JSON that the parser reads as infinity: out of range like 1e308
    if isinstance(value, float) and math.isinf(value):
        return 10**309 if value > 0 else -(10**309)
    return value


class Strict(BaseModel):
    """Requests refuse properties they do not know (CAMARA: 400 INVALID_ARGUMENT)."""

    model_config = ConfigDict(extra="forbid")


class ErrorInfo(BaseModel):
    status: int = Field(description="The HTTP status, as answered.")
    code: ErrorCode = Field(
        description="What went wrong: CAMARA's codes and the service's own, listed here; a "
        "client branches on this, never on the message."
    )
    message: str = Field(description="For a person: what was refused and why.")


# what every client route answers a client past its rate (api.rate_limit), declared with the
# route's other errors
RATE_LIMITED: dict[int | str, dict[str, object]] = {
    429: {
        "model": ErrorInfo,
        "description": "TOO_MANY_REQUESTS: this client's calls are past its rate, in this "
        "server process (OWNERSHIP_CLIENT_RATE_LIMIT); only signed calls count",
        "headers": {
            "Retry-After": {
                "description": "Whole seconds, at least 1, until a call goes through again",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }
}


class CheckRequest(Strict):
    phone: str = Field(description="The number, E.164 (`+79234567823`); spacing is tolerated.")
    since: SinceTime | None = Field(
        None,
        description="Answer `changed_since` for this date or time (UTC unless it says); a "
        "date asks about the whole day, as the CAMARA routes' dates do: changed after "
        "2025-11-20 means after its last moment.",
    )
    sensitive: StrictBool = Field(False, description="A bank-grade notification (DESIGN §7).")
    mobile_only: StrictBool = Field(False, description="Only the mobile app may show it.")


# an item that is no text (a number, null) is answered in place, as a bad number is, so that
# one bad row does not fail the other 9,999; documented as the text it should be
BulkPhone = Annotated[object, WithJsonSchema({"type": "string"})]


class BulkCheckRequest(Strict):
    phones: list[BulkPhone] = Field(min_length=1, max_length=MAX_BULK)
    since: SinceTime | None = Field(
        None, description="As `since` of `POST /v1/check`, for every number."
    )
    sensitive: StrictBool = False
    mobile_only: StrictBool = False


class ReasonOut(BaseModel):
    code: Reason
    at: datetime | None = Field(description="The time of the event behind the reason (UTC).")


class ChannelOut(BaseModel):
    network: Literal["vk", "ok"]
    active: bool = Field(
        description="An account bound to the number was seen within the activity window A "
        "(OWNERSHIP_ACTIVITY_DAYS, 7 by default) before the scores' as_of."
    )
    mobile_app: bool = Field(
        description="An active account uses the mobile app: an account not seen within A is "
        "not counted, whatever its app, since it would not show a notification."
    )


class CheckResponse(BaseModel):
    phone: str
    phone_masked: str
    status: Status
    risk_score: int = Field(ge=0, le=1000)
    reasons: list[ReasonOut]
    owner_since: datetime | None = Field(
        description="The current holder's first evidence after the latest change (UTC); null "
        "for a number without history, and for an owner_changed number no holder has shown on "
        "since the change."
    )
    changed_since: bool | None = Field(
        description="Whether the number changed hands after `since`; true for any `since` "
        "within the history when no holder has shown since the change; null without `since`, "
        "when `since` precedes the history, or for a number without history."
    )
    last_confirmed_at: datetime | None
    action: Action
    policy_case: PolicyRow = Field(description="The row of the policy table that decided.")
    channels: list[ChannelOut]
    as_of: datetime


class CheckItemError(BaseModel):
    # any JSON value: an item that is no text is answered in place too (BulkPhone)
    phone: JsonValue = Field(
        description="The item as sent: the text, or the value sent where a text should be."
    )
    error: ErrorInfo


class BulkCheckResponse(BaseModel):
    results: list[CheckResponse | CheckItemError] = Field(
        description="One item per phone, in the order sent."
    )


class NumberRecyclingRequest(Strict):
    phoneNumber: str | None = Field(None, pattern=CAMARA_PHONE)
    specifiedDate: CalendarDate


class NumberRecyclingResponse(BaseModel):
    phoneNumberRecycled: bool = Field(
        description="The number changed hands after the date: its current holder first "
        "showed later, or no holder has shown since it changed hands."
    )


class TenureRequest(Strict):
    phoneNumber: str | None = Field(None, pattern=CAMARA_PHONE)
    tenureDate: CalendarDate


class TenureResponse(BaseModel):
    tenureDateCheck: bool = Field(
        description="The current holder has held the number since the date: false when no "
        "holder has shown since the number changed hands."
    )


class Health(BaseModel):
    status: Literal["ok", "no_snapshot"]
    snapshot_as_of: datetime | None
    snapshot_numbers: int


class Pong(BaseModel):
    pong: bool


def examples(**bodies: dict[str, object]) -> dict[str, dict[str, object]]:
    """OpenAPI examples of a request body, by name (shown in /docs, tried by schemathesis)."""
    return {
        name: {"summary": name.replace("_", " "), "value": body} for name, body in bodies.items()
    }


EXAMPLE_PHONE = "+79234567823"
CHECK_EXAMPLES = examples(
    regular={"phone": EXAMPLE_PHONE},
    sensitive_since_a_date={"phone": EXAMPLE_PHONE, "since": "2025-06-01", "sensitive": True},
)
BULK_EXAMPLES = examples(
    three_numbers={"phones": [EXAMPLE_PHONE, "+79161234567", "+7 903 111-22-33"]}
)
RECYCLING_EXAMPLES = examples(
    since_a_date={"phoneNumber": EXAMPLE_PHONE, "specifiedDate": "2025-06-01"}
)
TENURE_EXAMPLES = examples(since_a_date={"phoneNumber": EXAMPLE_PHONE, "tenureDate": "2025-06-01"})


class UserAction(Strict):
    type: Literal["order", "payment", "login", "registration", "request"]
    at: Annotated[datetime, AfterValidator(_offset_or_utc)] = Field(
        description="When the user acted; with a time zone, or UTC."
    )


# hard bounds on a notification's params, as on a template's text and placeholders
# (api/template_schemas.py): what is parsed at all. The filled message is then held to the
# moderation's far lower length limits, with a MESSAGE_TOO_LONG that names them.
MAX_PARAMS = 50
# a callback URL is copied into its notification and into every webhook row it causes: bounded
# as URLs are in practice (browsers, pydantic's HttpUrl), so no client stores a megabyte of it
MAX_CALLBACK_URL = 2_048
MAX_PARAM_NAME = 64
MAX_PARAM_VALUE = 10_000
# the bound on the string itself, so it is said as a string's length; what no store holds is
# refused before it (a BeforeValidator), since a string with half of a UTF-16 pair fails the
# bound less clearly
ParamName = Annotated[
    str, Field(min_length=1, max_length=MAX_PARAM_NAME), BeforeValidator(_storable)
]
# a value shows inside the message: what a template may not carry, a value may not either
ParamValue = Annotated[
    str,
    Field(max_length=MAX_PARAM_VALUE),
    BeforeValidator(_storable),
    AfterValidator(refuse_unshowable),
]


MIN_SMS_SECONDS = int(MIN_SMS_VALIDITY.total_seconds())
MAX_SMS_SECONDS = int(MAX_SMS_VALIDITY.total_seconds())
SMS_VALIDITY_BOUNDS = f"{MIN_SMS_SECONDS} to {MAX_SMS_SECONDS}"


class NotificationCreate(Strict):
    request_id: StoredText = Field(min_length=1, max_length=128, description="Idempotency key.")
    phone: StoredText
    template_id: StoredText = Field(min_length=1, max_length=40)
    params: dict[ParamName, ParamValue] = Field(
        default_factory=dict,
        max_length=MAX_PARAMS,
        description="A value for every placeholder of the template, and for no other.",
    )
    action: UserAction
    # any integer: one out of 15 s to 24 h is refused as TTL_OUT_OF_RANGE, saying the bounds
    ttl: Annotated[int, BeforeValidator(_a_number_of_seconds)] = Field(
        int(DEFAULT_TTL.total_seconds()),
        description="Seconds, 15 to 86400 (checked with a clear error).",
        json_schema_extra={"minimum": 15, "maximum": 86_400},
    )
    # as the ttl: any integer, one out of bounds refused as SMS_VALIDITY_OUT_OF_RANGE
    sms_validity: Annotated[int, BeforeValidator(_a_number_of_seconds)] | None = Field(
        None,
        description="Seconds the notification's SMS stays worth delivering from when the "
        f"service first takes it to send by SMS, {SMS_VALIDITY_BOUNDS} (checked with a clear "
        "error): the gateway is told the moment it ends (every hand-over of the SMS the same), "
        "a phone that cannot take the SMS before it never gets it (the notification ends "
        "`sms_failed`, error `expired`), and an SMS not handed over by then is not sent. An SMS "
        "that falls back at the ttl is taken to be sent when the ttl ends, or once the social "
        "network confirmed withdrawing the message (up to 5 minutes later). A re-verification "
        "code's SMS is worth delivering until the ttl ends, whatever this says. Omitted: the "
        "service's own (OWNERSHIP_SMS_VALIDITY_SECONDS, 36000 by default), which is also the "
        "most any notification gets.",
        json_schema_extra={"minimum": MIN_SMS_SECONDS, "maximum": MAX_SMS_SECONDS},
    )
    sensitive: StrictBool = False
    mobile_only: StrictBool = False
    fallback: Literal["sms", "none"] = "sms"
    reverify: Literal["prompt", "sms_code"] = Field(
        "prompt",
        description="How to ask the person when the policy says re-verify: the Yes/No prompt in "
        "the social network, or a code sent by SMS and entered there (3 tries). The code's SMS "
        "is not billed.",
    )
    callback_url: (
        Annotated[
            AnyHttpUrl,
            UrlConstraints(max_length=MAX_CALLBACK_URL),
            BeforeValidator(_storable),
            AfterValidator(_without_credentials),
        ]
        | None
    ) = None


def internal_address(url: AnyHttpUrl) -> str | None:
    """Why `url` points into a private network, or None: a loopback name, or an address that
    is not public (loopback, private, link-local, reserved). The URL parser has already made
    numeric hosts ("2130706433", "0x7f.1") dotted. A name that resolves to such an address is
    caught when the webhook is sent (`delivery.http_deadline.is_public`), on the address that
    is connected to."""
    host = (url.host or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is this machine"
    try:
        address = str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None
    return None if is_public(address) else f"{address} is not a public address"


class NotificationAccepted(BaseModel):
    id: str
    action: Action
    status: Literal["accepted"]


class StatusStep(BaseModel):
    status: NotificationStatus
    at: datetime
    detail: dict[str, object]


class NotificationPublic(BaseModel):
    id: str
    request_id: str
    phone_masked: str
    template_id: str
    decision: Action
    policy_case: PolicyRow
    number_status: Status
    reasons: list[Reason]
    status: NotificationStatus = Field(description="The latest status of its history.")
    channel: Channel | None
    created_at: datetime
    expires_at: datetime
    sms_validity: int = Field(
        description="Seconds its SMS stays worth delivering from when it is first taken to be "
        "sent by SMS: "
        "the client's `sms_validity` where it is shorter than the service's own, else the "
        "service's."
    )
    history: list[StatusStep]

    @classmethod
    def from_record(cls, record: dict[str, object]) -> NotificationPublic:
        from ownership.numbers import mask

        return cls.model_validate(
            {**record, "phone_masked": mask(str(record["phone"])), "decision": record["decision"]}
        )


AMOUNT = "a decimal string with 4 places, as the ledger keeps it"


class BillingLine(BaseModel):
    """The deliveries of one channel to one country at one unit price: a price changed within
    the month makes two lines."""

    channel: Channel
    country: str | None = Field(description="The country's E.164 prefix.")
    currency: str
    price: Decimal = Field(description=f"The price of one delivered notification: {AMOUNT}.")
    delivered: int
    amount: Decimal = Field(description=f"`price` times `delivered`: {AMOUNT}.")


class BillingPublic(BaseModel):
    """A month's bill: the month is the UTC month of each delivery's time."""

    month: str = Field(description="YYYY-MM, the UTC month of the deliveries' times.")
    lines: list[BillingLine]
    delivered: int
    total: Decimal = Field(description=f"The lines' amounts summed: {AMOUNT}.")


NOTIFY_EXAMPLES = examples(
    order_ready={
        "request_id": "order-17-ready",
        "phone": EXAMPLE_PHONE,
        "template_id": "tpl_example",
        "params": {"order": "A-17"},
        "action": {"type": "order", "at": "2026-06-01T10:00:00Z"},
        "ttl": 3600,
        "sensitive": False,
    },
    one_time_code_worth_minutes={
        "request_id": "login-3071",
        "phone": EXAMPLE_PHONE,
        "template_id": "tpl_example",
        "params": {"order": "A-19"},
        "action": {"type": "login", "at": "2026-06-01T10:00:00Z"},
        "ttl": 60,
        "sms_validity": 300,
    },
    payment_asking_a_code={
        "request_id": "payment-5521",
        "phone": EXAMPLE_PHONE,
        "template_id": "tpl_example",
        "params": {"order": "A-18"},
        "action": {"type": "payment", "at": "2026-06-01T10:00:00Z"},
        "sensitive": True,
        "reverify": "sms_code",
    },
)


class JSONBytes(Response):
    """An answer serialised already (orjson), which FastAPI sends as it is."""

    media_type = "application/json"
