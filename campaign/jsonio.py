"""The API's JSON parser and renderer: a hostile body gets a 400, and no answer fails to render.

DRF's own parser lets ``RecursionError`` out of ``json.loads`` (100,000 nested brackets: a 500),
refuses a whole body for one number of over 4,300 digits (Python's ``int()`` limit, in English),
and its renderer encodes the answer as UTF-8, which a lone surrogate echoed back from the request
(a refused ``"\\ud800"`` transaction id, an unknown key) cannot be: another 500.
"""

from __future__ import annotations

import codecs

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.renderers import JSONRenderer
from rest_framework.utils import json

# A transaction batch is 3 levels deep ({"transactions": [{...}]}); nothing the API reads goes
# deeper, so a body nested beyond this is refused before any serializer walks it recursively.
MAX_JSON_DEPTH = 32
# Longer than any number a record holds (an amount has at most 13 digits): kept as text, not int(),
# by the API's parser and by the XLSX reader alike.
MAX_INT_TEXT = 40


def json_depth_exceeds(data: object, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``data`` nests objects or arrays more than ``limit`` levels (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _too_deep() -> ParseError:
    return ParseError(
        _("The JSON body is nested more than %(limit)s levels deep; the API reads at most %(limit)s.")
        % {"limit": MAX_JSON_DEPTH}
    )


def _int_or_text(text: str) -> int | str:
    """A JSON integer; one too long for any field stays text, so the record's check refuses that one
    record ("too long") instead of ``int()`` refusing the whole body, as the XLSX import does."""
    return text if len(text) > MAX_INT_TEXT else int(text)


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing with a 400 a body nested deeper than MAX_JSON_DEPTH (huge integers: text)."""

    def parse(self, stream, media_type=None, parser_context=None):
        reader = codecs.getreader(get_encoding(parser_context or {}))(stream)
        try:  # DRF's JSONParser.parse, with huge integers read as text
            data = json.load(
                reader, parse_constant=json.strict_constant if self.strict else None, parse_int=_int_or_text
            )
        except RecursionError:
            raise _too_deep() from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if json_depth_exceeds(data):
            raise _too_deep()
        return data


class _AsciiJSONRenderer(JSONRenderer):
    ensure_ascii = True


class SafeJSONRenderer(JSONRenderer):
    """UTF-8 JSON as usual; an answer holding a lone surrogate is written with ASCII escapes instead."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _AsciiJSONRenderer().render(data, accepted_media_type, renderer_context)
