"""API paths of the scoring engine (full paths)."""

from django.urls import path

from missions import api

urlpatterns = [
    path("api/v1/members/<str:member_id>/progress", api.MemberProgressApi.as_view(), name="api-member-progress"),
    path(
        "api/v1/members/<str:member_id>/transactions",
        api.MemberTransactionsApi.as_view(),
        name="api-member-transactions",
    ),
    path("api/v1/me/progress", api.MeProgressApi.as_view(), name="api-me-progress"),
    path("api/v1/me/transactions", api.MeTransactionsApi.as_view(), name="api-me-transactions"),
]
