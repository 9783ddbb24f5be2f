"""The portal's URLs. Each app's urls.py lists its own pages and API paths in full."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from campaign import apidocs, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", apidocs.redoc, name="api-redoc"),
    # /healthz and /readyz are answered by campaign.health.HealthMiddleware, before the host check.
    path("metrics", metrics.metrics_view, name="metrics"),
    path("", include("campaign.api_urls")),
    path("", include("missions.urls")),
    path("", include("lottery.urls")),
    path("", include("merchants.urls")),
    path("", include("campaign.site_urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """An unknown path under /api/ (a trailing slash, a typo) is answered in JSON, as the API's own 404s are."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return page_not_found(request, exception)


handler404 = not_found
