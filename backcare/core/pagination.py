import re

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
