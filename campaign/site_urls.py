"""The customer special site."""

from django.urls import path

from campaign import views

urlpatterns = [
    path("", views.home, name="home"),
]
