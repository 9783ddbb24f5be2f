"""Request middleware of the portal: forbidden characters in URLs, and a request id for the logs.

A NUL in a URL (``/api/v1/members/%00/progress``, ``/admin/campaign/member/%00/change/``,
``?member__member_id=%00``) reached PostgreSQL, which cannot hold one in text and raised a
``DataError``: a 500. No id, search or filter of the portal may hold a control character
(``campaign.identifiers``), so such a URL is answered here, in one place, before any view: 404
for a path (nothing can live there) and 400 for a query string.
"""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import BadRequest, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from campaign.observability import request_context

# C0 and C1 control characters and DEL; tab, CR and LF are tolerated in query values (a search
# box may paste one) but never in a path.
_PATH_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_QUERY_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _query_problem(request: HttpRequest) -> bool:
    for key, values in request.GET.lists():
        if _QUERY_FORBIDDEN.search(key) or any(_QUERY_FORBIDDEN.search(value) for value in values):
            return True
    return False


class ForbiddenCharactersMiddleware:
    """404 for a control character in the path, 400 in the query string; JSON under /api/."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path.startswith("/api/")
        if _PATH_FORBIDDEN.search(request.path):
            message = _("Nothing can be found at an address that holds a control character.")
            if api:
                return JsonResponse({"detail": message}, status=404)
            raise Http404(message)
        if _query_problem(request):
            message = _("The query string holds a control character; no search or filter can.")
            if api:
                return JsonResponse({"detail": message}, status=400)
            raise BadRequest(message)
        return self.get_response(request)


class AdminObjectIdMiddleware:
    """404 for an admin URL whose object id cannot be a key of its model (``/admin/merchants/district/x/history/``).

    Django's own change view checks this, but not every admin view does: django-simple-history's
    history view passed ``"x"`` to an integer key and raised ``ValueError`` (a 500). The model is
    found from the URL's name (``<app>_<model>_<view>``), as the admin names its URLs.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        object_id = view_kwargs.get("object_id")
        match = request.resolver_match
        if object_id is None or match is None or "admin" not in match.namespaces:
            return None
        model = _admin_model(match.url_name or "")
        if model is None:
            return None
        try:
            model._meta.pk.to_python(unquote(object_id))
        except (ValidationError, ValueError, TypeError):
            raise Http404(_("No object can have this id.")) from None
        return None


def _admin_model(url_name: str):
    for model in admin.site._registry:
        if url_name.startswith(f"{model._meta.app_label}_{model._meta.model_name}_"):
            return model
    return None


class RequestIdMiddleware:
    """Give each request an id (the proxy's ``X-Request-ID`` when sane), echoed and put in every log line."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        with request_context(request_id=request.request_id):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


class PermissionsPolicyMiddleware:
    """Tells the browser which features no page of the portal uses (settings.PORTAL_PERMISSIONS_POLICY)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PORTAL_PERMISSIONS_POLICY)
        return response
