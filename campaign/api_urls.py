"""System API paths of the campaign app (transactions, entries, video views, campaign)."""

from django.urls import path

from campaign import api

urlpatterns = [
    path("api/v1/transactions", api.TransactionsApi.as_view(), name="api-transactions"),
    path("api/v1/entries", api.EntriesApi.as_view(), name="api-entries"),
    path("api/v1/video-views", api.VideoViewsApi.as_view(), name="api-video-views"),
    path("api/v1/campaign", api.CampaignApi.as_view(), name="api-campaign"),
]
