"""The codes of the error envelope (DESIGN §6): every code the API answers with, and no other.

The envelope's schema (`api.schemas.ErrorInfo`) publishes this enum, and every error raised
or rendered (`api.errors`) takes a member of it, so a code cannot be answered without being
documented. CAMARA's first, then the service's own.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # 400: a request its schema refuses, a malformed phone or date, an unknown property or
    # query parameter, a body that cannot be read
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    # 400: a date in the future or before the history; a ttl, sms_validity or action time
    # out of its bounds
    OUT_OF_RANGE = "OUT_OF_RANGE"
    # 401: a call not signed as it must be, an unknown key, a reused nonce; a gateway's event
    # or an admin call without its signature or token
    UNAUTHENTICATED = "UNAUTHENTICATED"
    # 403: a signed call from outside the client's networks
    PERMISSION_DENIED = "PERMISSION_DENIED"
    # 404: CAMARA, a number with no history
    IDENTIFIER_NOT_FOUND = "IDENTIFIER_NOT_FOUND"
    # 422: CAMARA, no phoneNumber (the caller's token names none)
    MISSING_IDENTIFIER = "MISSING_IDENTIFIER"
    # 422: a number whose country the service does not serve (no price to bill it at)
    SERVICE_NOT_APPLICABLE = "SERVICE_NOT_APPLICABLE"
    # 409: a request_id again with another body; a template decided already
    CONFLICT = "CONFLICT"
    # 429: a client's calls past its rate (OWNERSHIP_CLIENT_RATE_LIMIT, per API worker);
    # Retry-After says when a call goes through again
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    # 404: a path, notification, template or social network this client has not
    NOT_FOUND = "NOT_FOUND"
    # 405: a method the path does not take (the `Allow` header names those it does)
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    # 413: a body past OWNERSHIP_MAX_BODY_BYTES, refused before it is read
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    # 422: a user action older than the client may answer (3 days unless allowed more)
    STALE_ACTION = "STALE_ACTION"
    # 422: a placeholder of the template with no value in params
    MISSING_PARAMS = "MISSING_PARAMS"
    # 422: a value in params for no placeholder of the template
    UNKNOWN_PARAMS = "UNKNOWN_PARAMS"
    # 404: a notification's template this client has not
    TEMPLATE_NOT_FOUND = "TEMPLATE_NOT_FOUND"
    # 422: a notification's template still in moderation, or rejected
    TEMPLATE_NOT_APPROVED = "TEMPLATE_NOT_APPROVED"
    # 422: the template filled with these params is too long for a channel
    MESSAGE_TOO_LONG = "MESSAGE_TOO_LONG"
    # 422: the template filled with these params is promotional in its body
    PROMOTIONAL_PARAMS = "PROMOTIONAL_PARAMS"
    # 503: the store cannot be reached, no scores are published yet, or the route's part of
    # the service is not configured: try again
    UNAVAILABLE = "UNAVAILABLE"
    # 500: a fault of the service's, logged; the caller learns nothing more
    INTERNAL = "INTERNAL"
