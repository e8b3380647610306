"""Translate botocore exceptions into the typed errors of `tui.core.errors`.

The reconciler backs off on BackendUnreachable (dead endpoint, timeout, 5xx,
throttling that outlived the retries, missing or expired credentials), audits a
BackendDenied as the backend's refusal, and shows NotFound / InvalidRequest as they
are. Messages name the operation and the error code; anything that looks like an
access key id is removed, and credentials are never part of a message.
"""

from __future__ import annotations

import re

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from tui.core.errors import BackendDenied, BackendError, BackendUnreachable, InvalidRequest, NotFound

BACKEND = "aws"
_ACCESS_KEY_RE = re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b")
_URL_USERINFO_RE = re.compile(r"(https?://)[^/@\s]+@")
_MAX_MESSAGE = 300
# Some endpoints (moto's tagging API among them) answer a JSON-protocol call with an XML error body.
_EMBEDDED_CODE_RE = re.compile(r"<Code>([^<]{1,100})</Code>")
_EMBEDDED_MESSAGE_RE = re.compile(r"<Message>([^<]{0,1000})</Message>")

EXPIRED_CODES = frozenset({
    "ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId",
    "UnrecognizedClientException", "InvalidAccessKeyId", "SignatureDoesNotMatch",
    "AuthFailure", "InvalidToken", "TokenRefreshRequired",
})
DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden",
    "AuthorizationError", "OptInRequired",
})
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
    "SlowDown", "RequestThrottled", "ServiceUnavailable", "InternalError", "InternalFailure",
})
NOT_FOUND_SUFFIXES = ("NotFound", "NotFoundException", "NotFoundFault", "NotFoundError")
INVALID_PREFIXES = ("Invalid", "Validation", "IncorrectState", "IncorrectInstanceState",
                    "InvalidParameter", "MissingParameter", "UnsupportedOperation")


def redact(text: str) -> str:
    """Remove access key ids and URL credentials; cap the length."""
    text = _ACCESS_KEY_RE.sub("[redacted]", text)
    text = _URL_USERINFO_RE.sub(r"\1[redacted]@", text)
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def translate(exc: BaseException, operation: str, *, profile: str | None = None) -> BackendError:
    """A typed, secret-free error for a failed call of `operation` (e.g. "ec2.DescribeInstances")."""
    where = f"AWS {operation}"
    login_hint = f" (try: aws sso login --profile {profile})" if profile else ""
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        raw_message = str(exc.response.get("Error", {}).get("Message") or "")
        embedded = _EMBEDDED_CODE_RE.search(raw_message)
        if embedded and (not code or code.isdigit()):
            code = embedded.group(1)
            found = _EMBEDDED_MESSAGE_RE.search(raw_message)
            raw_message = found.group(1) if found else ""
        message = redact(raw_message)
        detail = f"{code}: {message}" if message else code
        if code in EXPIRED_CODES:
            return BackendUnreachable(
                f"{where}: credentials are expired or invalid ({code}){login_hint}", backend=BACKEND)
        if code in DENIED_CODES or status == 403:
            return BackendDenied(f"{where}: access denied ({detail})", backend=BACKEND)
        if code in THROTTLING_CODES or status >= 500:
            return BackendUnreachable(f"{where}: service unavailable ({detail})", backend=BACKEND)
        if code.endswith(NOT_FOUND_SUFFIXES) or code.startswith("NoSuch") or status == 404:
            return NotFound(f"{where}: not found ({detail})", backend=BACKEND)
        if code.startswith(INVALID_PREFIXES) or status == 400:
            return InvalidRequest(f"{where}: {detail}", backend=BACKEND)
        return BackendUnreachable(f"{where}: {detail}", backend=BACKEND)
    if isinstance(exc, ProfileNotFound):
        return BackendUnreachable(
            f"AWS profile {profile!r} is not in the AWS config files (~/.aws/config)", backend=BACKEND)
    if isinstance(exc, (UnauthorizedSSOTokenError, TokenRetrievalError)):
        return BackendUnreachable(f"{where}: the SSO session has expired{login_hint}", backend=BACKEND)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)):
        return BackendUnreachable(
            f"{where}: no usable AWS credentials (as the AWS CLI finds them: profile, environment, "
            f"SSO, instance role){login_hint}", backend=BACKEND)
    if isinstance(exc, NoRegionError):
        return InvalidRequest(f"{where}: no region configured", backend=BACKEND)
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return BackendUnreachable(f"{where}: endpoint unreachable: {redact(str(exc))}", backend=BACKEND)
    if isinstance(exc, BotoCoreError):
        return BackendUnreachable(f"{where}: {redact(str(exc))}", backend=BACKEND)
    if isinstance(exc, OSError):
        return BackendUnreachable(f"{where}: {type(exc).__name__}: {redact(str(exc))}", backend=BACKEND)
    return BackendUnreachable(f"{where}: unexpected {type(exc).__name__}: {redact(str(exc))}",
                              backend=BACKEND)
