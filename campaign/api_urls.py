"""System API paths of the campaign app (transactions, entries, video views, campaign)."""

urlpatterns: list = []
