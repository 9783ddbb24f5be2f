"""Japanese line breaks between phrases (BudouX) and the links the campaign notes name.

``{{ text|phrases }}`` cuts Japanese text into phrases with BudouX and marks the allowed breaks
with ``<wbr>`` inside ``<span class="phrases">``, whose CSS (``word-break: keep-all``) forbids
the others: no 「ク/リア」, no lone 「ン」 at a line start. English text is left as it is.
"""

from __future__ import annotations

import re
from functools import cache

import budoux
from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


@cache
def _parser() -> budoux.Parser:
    return budoux.load_default_japanese_parser()


def phrase_html(text: str) -> SafeString:
    if not _JAPANESE.search(text):
        return conditional_escape(text)
    inner = "<wbr>".join(str(conditional_escape(chunk)) for chunk in _parser().parse(text))
    return mark_safe(f'<span class="phrases">{inner}</span>')  # noqa: S308 (every chunk is escaped)


@register.filter(is_safe=True)
def phrases(value: object) -> SafeString:
    """Japanese text that breaks only between phrases."""
    if value is None:
        return mark_safe("")
    return phrase_html(str(value))


def _note_links() -> list[tuple[re.Pattern, str]]:
    links = [
        (re.compile(r"別紙\s?1|the bonus merchants page"), reverse("bonus-merchants")),
        (re.compile(r"お問い合わせ|please contact us"), contact_url()),
    ]
    if settings.PORTAL_SERVICE_URL:
        links.append((re.compile(r"Wesmo!\s?サービスサイト|the Wesmo! service site"), settings.PORTAL_SERVICE_URL))
    return links


@register.filter(is_safe=True)
def note_html(value: object) -> SafeString:
    """A campaign note with 別紙1, お問い合わせ and the service site linked, in phrases."""
    text = str(value or "")
    pieces: list[str] = []
    position = 0
    found = sorted(
        ((match.start(), match.end(), url) for pattern, url in _note_links() for match in pattern.finditer(text)),
        key=lambda item: item[0],
    )
    for start, end, url in found:
        if start < position:
            continue
        pieces.append(str(phrase_html(text[position:start])))
        pieces.append(str(format_html('<a href="{}">{}</a>', url, text[start:end])))
        position = end
    pieces.append(str(phrase_html(text[position:])))
    return mark_safe("".join(pieces))  # noqa: S308 (built from escaped parts)


@register.simple_tag
def contact_url() -> str:
    """お問い合わせ: PORTAL_CONTACT_URL, or the FAQ's contact section when it is not set."""
    return settings.PORTAL_CONTACT_URL or reverse("faq") + "#contact"


@register.simple_tag
def service_url() -> str:
    return settings.PORTAL_SERVICE_URL


def _japanese() -> bool:
    return (get_language() or "ja")[:2] != "en"


@register.simple_tag
def colon() -> str:
    """「：」 in Japanese text, ": " in English."""
    return "：" if _japanese() else ": "


@register.simple_tag
def comma() -> str:
    """「、」 in Japanese lists, ", " in English."""
    return "、" if _japanese() else ", "
