"""The Matrix layer's own error types: the only exceptions the UI and the CLI catch.

Every non-2xx answer and every transport failure inside ``app.matrix`` becomes one of
these; no aiohttp or nio exception leaves the package. Each says whether trying the same
request again later can help (``is_retryable``), so the callers that own retry policy (the
receipt queue, the sync loop) do not need to know HTTP.
"""

from __future__ import annotations


def first_line(error: BaseException, limit: int) -> str:
    """What a caught exception says, for a one-line message: its first line, at most
    ``limit`` characters, or its type's name when it says nothing."""
    text = str(error)
    return text.splitlines()[0][:limit] if text else type(error).__name__


class MatrixError(Exception):
    """A request failed. ``str()`` is one line: ``"M_INVALID_PARAM: thread_id field must be ..."``."""

    retryable: bool = False

    def __init__(self, message: str, *, errcode: str | None = None, status: int | None = None) -> None:
        # One line, always: server messages sometimes carry newlines.
        self.message = " ".join(str(message).split())
        self.errcode = errcode
        self.status = status
        super().__init__(self.message)

    @property
    def is_retryable(self) -> bool:
        """True when the same request may succeed later without any change."""
        return self.retryable

    def __str__(self) -> str:
        if self.errcode:
            return f"{self.errcode}: {self.message}"
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, errcode={self.errcode!r}, status={self.status!r})"


class NetworkError(MatrixError):
    """The homeserver could not be reached: refused, reset, DNS failure, or timed out."""

    retryable = True


class TlsError(NetworkError):
    """The homeserver's TLS certificate did not verify. Retrying will not fix it."""

    retryable = False


class NotAMatrixServer(MatrixError):
    """Something answered, but not as a Matrix homeserver (no ``/versions``)."""


class LoginFailed(MatrixError):
    """Wrong password, unknown user, or a deactivated or locked account."""


class TokenInvalid(MatrixError):
    """``M_UNKNOWN_TOKEN`` (or a missing token): the session is over; log in again.

    ``soft_logout`` True means the server wants the same device to log in again, keeping
    its state.
    """

    def __init__(
        self,
        message: str,
        *,
        errcode: str | None = None,
        status: int | None = None,
        soft_logout: bool = False,
    ) -> None:
        super().__init__(message, errcode=errcode, status=status)
        self.soft_logout = soft_logout


class RateLimited(MatrixError):
    """``429 M_LIMIT_EXCEEDED``. Wait ``retry_after_ms`` (when the server said) and retry."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        errcode: str | None = None,
        status: int | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(message, errcode=errcode, status=status)
        self.retry_after_ms = retry_after_ms


class RequestRefused(MatrixError):
    """Any other 4xx: the server understood and said no. Sending it again will not help."""


class ServerError(MatrixError):
    """A 5xx, or an answer the server should never give: retry later."""

    retryable = True
