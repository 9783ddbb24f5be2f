"""The error answers every API operation can give, added to /api/schema/ (a drf-spectacular hook).

Views document their successful answers; the errors come from the layers around them and are the
same everywhere: a body that is not valid (400: ``Error`` for a refusal or an unreadable body,
``ValidationErrors`` for fields), no or a bad token (401, 403), nothing there (404: an id no
member can have, no campaign running, a page past the end), a body too large (413), a media
type the API does not read or write (415, 406), too many requests (429). So a client generated
from the schema knows every answer, and schemathesis checks that each one is real.
"""

from __future__ import annotations

ERROR = {
    "type": "object",
    "description": "An error: what is wrong, in the request's language; `code` when the campaign's rules refused it.",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERRORS = {
    "type": "object",
    "description": "Field errors: for each field (or non_field_errors), the messages; nested for a list's items.",
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        ]
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_JSON = "application/json"


def _answer(description: str, schema: dict) -> dict:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _errors_for(operation: dict, method: str) -> dict[str, dict]:
    errors = {
        "404": _answer("Not found: no such member id, page or campaign.", _ERROR_REF),
        "406": _answer("The Accept header asks for a format the API does not write.", _ERROR_REF),
        "429": _answer("Too many requests: wait as long as the Retry-After header says.", _ERROR_REF),
    }
    if method in ("post", "put", "patch"):
        errors["400"] = _answer(
            "The body is not valid JSON, is nested too deeply, has wrong fields, or the rules refuse it.",
            {"oneOf": [_ERROR_REF, {"$ref": "#/components/schemas/ValidationErrors"}]},
        )
        errors["413"] = _answer("The body is larger than the API accepts.", _ERROR_REF)
        errors["415"] = _answer("The body is not application/json.", _ERROR_REF)
    elif any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
        errors["400"] = _answer("A query parameter cannot be read.", _ERROR_REF)
    if operation.get("security") != [] and operation.get("security", [{}]) != [{}]:
        errors["401"] = _answer("No or an unknown token.", _ERROR_REF)
        errors["403"] = _answer("Not signed in, or this token or login may not use this operation.", _ERROR_REF)
    return errors


def error_responses_add(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: the shared error answers on every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    schemas["ValidationErrors"] = VALIDATION_ERRORS
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, answer in _errors_for(operation, method).items():
                operation["responses"].setdefault(status, answer)
    return result
