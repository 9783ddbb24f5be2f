"""WESTER ID for the tests: django-oauth-toolkit as a real OpenID Connect provider.

``urlpatterns`` is the portal's plus the provider under ``/o/`` (discovery, authorize, token,
userinfo, JWKS, end of session). The provider's users are named ``wester:<member id>``; the
member ID claim the portal reads is taken from that name.
"""

from __future__ import annotations

from django.urls import include, path
from oauth2_provider.oauth2_validators import OAuth2Validator

from campaign.urls import urlpatterns as portal_urlpatterns

PROVIDER_USER_PREFIX = "wester:"


class WesterIdValidator(OAuth2Validator):
    oidc_claim_scope = None  # every claim in the ID token and the user info, whatever the scopes

    def get_additional_claims(self, request):
        return {"member_id": request.user.username.removeprefix(PROVIDER_USER_PREFIX)}


urlpatterns = [path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")), *portal_urlpatterns]
