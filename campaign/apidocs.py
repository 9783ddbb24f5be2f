"""The API's browsable docs, served from local files only (drf-spectacular-sidecar) and without inline script.

drf-spectacular's ReDoc page links Google Fonts and starts ReDoc from an inline script, which the
Content-Security-Policy blocks: this page uses ReDoc's ``<redoc spec-url>`` element instead.
Swagger UI is drf-spectacular's split view, whose starting script is a file of its own.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html


def redoc(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        format_html(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Wesmo! Stamp Rally Mission API</title></head>"
            '<body><redoc spec-url="{}"></redoc><script src="{}"></script></body></html>',
            reverse("api-schema"),
            static("drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"),
        )
    )
