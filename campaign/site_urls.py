"""The customer special site."""

from django.contrib.auth.views import LogoutView
from django.urls import path

from campaign import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.MemberLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("entry/", views.entry, name="entry"),
    path("stamps/", views.stamp_card, name="stamp-card"),
    path("stamps/card/", views.stamp_card_fragment, name="stamp-card-fragment"),
    path("members/<str:member_id>/stamps/", views.stamp_card, name="member-stamp-card"),
    path("videos/", views.videos, name="videos"),
    path("videos/<slug:code>/start", views.video_start, name="video-start"),
    path("videos/<slug:code>/watched", views.video_watched, name="video-watched"),
]
