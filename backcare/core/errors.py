"""Domain errors: what a service says when it refuses, in the domain's words, with no HTTP in it.

Services raise these; one exception handler (backcare.core.api.exception_handler) maps each to its HTTP
status and the project's error body, and the offline batch (recovery/api/sync.py) maps them item by item
the same way. `detail` is either a message or a mapping of field -> [reasons], exactly as the client sees it.
"""

from typing import Any


class DomainError(Exception):
    status_code = 400
    default_detail = "The request is not valid."

    def __init__(self, detail: Any = None, *, headers: dict[str, str] | None = None) -> None:
        self.detail = self.default_detail if detail is None else detail
        self.headers = headers or {}
        super().__init__(self.detail)


class Invalid(DomainError):
    """The input breaks a rule: name the field and the reason."""

    status_code = 400


class Forbidden(DomainError):
    """The caller's role may not do this."""

    status_code = 403
    default_detail = "You do not have permission to perform this action."


class NotFound(DomainError):
    """No such record, or not the caller's: the two are never told apart."""

    status_code = 404
    default_detail = "Not found."


class Conflict(DomainError):
    """The request conflicts with the current state (a replay with other content, an overlap, a second open episode)."""

    status_code = 409
    default_detail = "The request conflicts with the current state."


class Gone(DomainError):
    status_code = 410
    default_detail = "No longer available."


class TooMany(DomainError):
    """Too many attempts; `headers` carries Retry-After."""

    status_code = 429
    default_detail = "Too many attempts."


class Unavailable(DomainError):
    status_code = 503
    default_detail = "Temporarily unavailable."
