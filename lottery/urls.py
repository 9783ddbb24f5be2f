"""The lottery's public page and API (full paths)."""

from django.urls import path

from lottery import api, views

urlpatterns = [
    path("lottery/", views.lottery_page, name="lottery-public"),
    path("lottery/eligible.txt", views.eligible_list, name="lottery-eligible"),
    path("api/v1/lottery", api.LotteryApi.as_view(), name="api-lottery"),
]
