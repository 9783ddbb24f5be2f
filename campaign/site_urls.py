"""The customer special site."""

from django.urls import include, path

from campaign import signin, stamp_card, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", signin.sign_in, name="login"),
    path("login/demo/", signin.demo_sign_in, name="demo-sign-in"),
    path("logout/", signin.sign_out, name="logout"),
    # WESTER ID (OpenID Connect): /oidc/authenticate/ and /oidc/callback/, views from campaign.wester_id.
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("faq/", views.faq, name="faq"),
    path("entry/", views.entry, name="entry"),
    path("stamps/", stamp_card.stamp_card, name="stamp-card"),
    path("stamps/card/", stamp_card.stamp_card_fragment, name="stamp-card-fragment"),
    path("stamps/history/", stamp_card.transaction_history, name="transaction-history"),
    path("members/<str:member_id>/stamps/", stamp_card.stamp_card, name="member-stamp-card"),
    path("members/<str:member_id>/stamps/history/", stamp_card.transaction_history, name="member-transaction-history"),
    path("videos/", views.videos, name="videos"),
    path("videos/<slug:code>/start", views.video_start, name="video-start"),
    path("videos/<slug:code>/watched", views.video_watched, name="video-watched"),
]
