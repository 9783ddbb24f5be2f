"""The portal's URLs plus the floor of bench/load.py: a minimal Django view, one row, JSON.

``GET /bench/floor/<member_id>`` reads the member's row (one read by primary key of the same
PostgreSQL) and answers it as JSON, through the same middleware, gunicorn and wrk as the progress
API and the stamp card page: what this Django can serve at best. Mounted only by bench/load_settings.py.
"""

from django.db import connection
from django.http import JsonResponse
from django.urls import path

from campaign.urls import urlpatterns as portal_urlpatterns


def floor(request, member_id: str) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT member_id, user_id, created_at FROM campaign_member WHERE member_id = %s", [member_id])
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"member_id": member_id}, status=404)
    return JsonResponse({"member_id": row[0], "user_id": row[1], "created_at": row[2]})


urlpatterns = [path("bench/floor/<str:member_id>", floor), *portal_urlpatterns]
