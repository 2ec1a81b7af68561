"""The error answers every operation can give, declared in one place (a drf-spectacular postprocessing hook).

Views declare their success responses and the errors that are their own (409 and the like); the ones
that come from the shared machinery (validation, authentication, permissions, 404, body size, content
type, throttling) are added here so the schema lists every status code the API really answers.
"""

from http import HTTPStatus

ERROR_SCHEMA = "Error"
FIELD_ERRORS_SCHEMA = "FieldErrors"

_COMPONENTS = {
    ERROR_SCHEMA: {
        "type": "object",
        "description": "An error that is not about a particular field.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    FIELD_ERRORS_SCHEMA: {
        "type": "object",
        "description": (
            "Messages keyed by the field they are about (`non_field_errors` or `detail` for the request "
            "as a whole, plus context such as `open_episode`). Nested objects follow the shape of the input."
        ),
        "additionalProperties": {},
    },
}

_DESCRIPTIONS = {
    400: "Invalid input; the body names every field that is wrong.",
    401: "Not signed in, or the token is invalid or expired.",
    403: "Not signed in, the token is invalid or expired, or this account may not use this endpoint.",
    404: "Not found (or not yours).",
    413: "The request body is larger than the server accepts.",
    415: "The body is not JSON (send Content-Type: application/json).",
    429: "Too many requests; try again later.",
}

_WRITE_METHODS = {"post", "put", "patch"}


def _response(status: int, schema: str) -> dict:
    return {
        "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _throttled(generator, path: str, method: str) -> bool:
    for endpoint_path, _regex, endpoint_method, callback in getattr(generator, "endpoints", None) or ():
        if endpoint_path == path and endpoint_method.lower() == method:
            return bool(getattr(getattr(callback, "cls", None), "throttle_classes", None))
    return False


def add_error_responses(result, generator, request, public):
    """Add the shared error responses an operation can answer, unless the view declared them itself."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(_COMPONENTS)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _WRITE_METHODS | {"get", "delete"}:
                continue
            parameters = operation.get("parameters", [])
            takes_body = "requestBody" in operation or method in _WRITE_METHODS
            authenticated = any(requirement for requirement in operation.get("security", [{}]))
            errors = {}
            if takes_body or parameters:
                errors[400] = FIELD_ERRORS_SCHEMA
            if authenticated:
                errors[401] = ERROR_SCHEMA
                errors[403] = ERROR_SCHEMA
            # A path id that is not the caller's, or a pagination cursor that does not decode.
            if any(p.get("in") == "path" or p.get("name") == "cursor" for p in parameters):
                errors[404] = ERROR_SCHEMA
            if takes_body:
                errors[413] = ERROR_SCHEMA
                errors[415] = ERROR_SCHEMA
            if _throttled(generator, path, method):
                errors[429] = ERROR_SCHEMA
            responses = operation.setdefault("responses", {})
            for status, schema in errors.items():
                responses.setdefault(str(status), _response(status, schema))
            # Errors a view declared with a description only (409 and the like) still answer JSON.
            for status, response in responses.items():
                if status.startswith("4") and "content" not in response:
                    schema = errors.get(int(status), FIELD_ERRORS_SCHEMA)
                    response["content"] = _response(int(status), schema)["content"]
    return result


# RFC 3339 "full-time" (OpenAPI's `format: time`) requires a UTC offset, but the API's times of day are
# local wall-clock times (a sleep window): DRF reads and writes them as HH:MM[:SS[.ffffff]] with no offset.
LOCAL_TIME = {
    "type": "string",
    "format": "partial-time",
    "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
    "example": "23:00",
}


def _local_times(node):
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            node.update(LOCAL_TIME)
        for value in node.values():
            _local_times(value)
    elif isinstance(node, list):
        for value in node:
            _local_times(value)


def local_time_format(result, generator, request, public):
    """Describe times of day as local wall-clock times (no offset) instead of RFC 3339 full-time."""
    _local_times(result)
    return result
