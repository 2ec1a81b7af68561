import base64
import binascii
import json
import re
from collections.abc import Sequence
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination


class NewestFirstCursor(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request):
        """A malformed limit is a 400 naming it (DRF would silently use the default); a large one is capped."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        digits = raw.lstrip("0")
        if not re.fullmatch(r"[0-9]+", digits):
            raise ValidationError({self.page_size_query_param: ["Must be a whole number of at least 1."]})
        return self.max_page_size if len(digits) > 9 else min(int(digits), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Page size (default {self.page_size}; values above {self.max_page_size} are capped)."
                )
        return parameters


# --- keyset cursors for hand-built pages (the triage queue, the timeline) ----------------------------
# The cursor is opaque to clients: the last row's sort key as a JSON array, base64url without padding.
# Each page type checks the types of its own key; this only guarantees "a list of this length, or ValueError".


def keyset_encode(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def keyset_decode(raw: str, *, length: int) -> list[Any]:
    """The key a cursor carries. Raises ValueError for anything not made by keyset_encode with this length."""
    try:
        key = json.loads(base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)))
    except (binascii.Error, UnicodeError, ValueError, TypeError) as exc:
        raise ValueError("invalid cursor") from exc
    if not isinstance(key, list) or len(key) != length:
        raise ValueError("invalid cursor")
    return key
