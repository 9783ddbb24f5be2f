"""Member sign-in with WESTER ID, an OpenID Connect provider (mozilla-django-oidc as the client).

The portal is a relying party: it sends the member to the provider (authorization code flow with
PKCE, state and nonce kept in the session), takes the member ID from a claim of the signed ID token
(``WESTER_ID_MEMBER_ID_CLAIM``) and signs in that member's user, creating it on the first sign-in.
Nobody can name a member ID of their own: only the provider says whose it is.

mozilla-django-oidc wants each endpoint in a setting; here they come from the issuer's discovery
document (``{issuer}/.well-known/openid-configuration``), fetched once and cached, so production
sets only the issuer, the client id and the secret (README "WESTER ID sign-in").
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404, HttpRequest
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import absolutify, import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from campaign.models import Member
from campaign.services import Refused, member_id_check
from campaign.sessions import member_user_read

logger = logging.getLogger(__name__)

DISCOVERY_CACHE_SECONDS = 3600
# mozilla-django-oidc's endpoint settings and the discovery document's names for them.
_DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def wester_id_enabled() -> bool:
    return bool(settings.WESTER_ID_ISSUER and settings.OIDC_RP_CLIENT_ID)


def provider_metadata() -> dict:
    """The provider's discovery document; its ``issuer`` must be the one configured."""
    issuer = settings.WESTER_ID_ISSUER.rstrip("/")
    key = f"wester-id:discovery:{issuer}"
    metadata = cache.get(key)
    if metadata is None:
        response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        metadata = response.json()
        if str(metadata.get("issuer", "")).rstrip("/") != issuer:
            raise SuspiciousOperation(f"The discovery document of {issuer} names another issuer.")
        missing = [name for name in _DISCOVERED.values() if not metadata.get(name)]
        if missing:
            raise SuspiciousOperation(f"The discovery document of {issuer} lacks {', '.join(missing)}.")
        cache.set(key, metadata, DISCOVERY_CACHE_SECONDS)
    return metadata


def wester_id_setting(attr: str, *default):
    """A mozilla-django-oidc setting; an endpoint not set explicitly comes from discovery."""
    if attr in _DISCOVERED and not getattr(settings, attr, None):
        return provider_metadata()[_DISCOVERED[attr]]
    return import_from_settings(attr, *default)


class WesterIdBackend(OIDCAuthenticationBackend):
    """Signs in the member whose ID the provider's ID token names; other sign-ins pass through.

    Django builds every backend for every sign-in (the staff admin's too), so nothing is read
    from the provider until a callback with a code and a state arrives.
    """

    get_settings = staticmethod(wester_id_setting)

    def __init__(self, *args, **kwargs):
        self.UserModel = get_user_model()

    def configure(self) -> None:
        """Read the client settings and the provider's endpoints, as the library does when built."""
        super().__init__()

    def authenticate(self, request, **kwargs):
        if request is None or not wester_id_enabled() or "nonce" not in kwargs:
            return None
        self.configure()
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        """The library checks the signature and the nonce; the issuer and the audience are checked here.

        A malformed, expired or key-less token is refused like a badly signed one, not a server error.
        """
        try:
            payload = super().verify_token(token, **kwargs)
        except (KeyError, TypeError, jwt.InvalidTokenError) as exc:
            raise SuspiciousOperation(f"The ID token cannot be verified: {exc!r}") from None
        if str(payload.get("iss", "")).rstrip("/") != settings.WESTER_ID_ISSUER.rstrip("/"):
            raise SuspiciousOperation("The ID token comes from another issuer.")
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token is for another client.")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The user info is about another subject than the ID token.")
        raw = payload.get(settings.WESTER_ID_MEMBER_ID_CLAIM) or claims.get(settings.WESTER_ID_MEMBER_ID_CLAIM)
        try:
            member_id = member_id_check(str(raw or ""))
        except Refused:
            logger.warning("WESTER ID sign-in without a usable %s claim", settings.WESTER_ID_MEMBER_ID_CLAIM)
            return None
        return member_user_for(member_id=member_id)

    def get_user(self, user_id):
        """The user with its member, in one plain query (campaign.sessions: every member page reads it)."""
        return member_user_read(user_id)


@transaction.atomic
def member_user_for(*, member_id: str):
    """The site user of ``member_id``, created (without a password) on the member's first sign-in.

    A user of that name that is not this member's (a staff account, say) is never handed over.
    """
    User = get_user_model()
    member, _created = Member.objects.select_for_update().get_or_create(member_id=member_id)
    if member.user_id is not None:
        return member.user
    if User.objects.filter(username__iexact=member_id).exists():
        logger.warning("WESTER ID sign-in of %s refused: that user name belongs to another account", member_id)
        return None
    user = User(username=member_id)
    user.set_unusable_password()
    user.save()
    member.user = user
    member.save(update_fields=["user"])
    return user


class WesterIdSignInView(OIDCAuthenticationRequestView):
    """Sends the member to WESTER ID; 404 when no provider is configured."""

    get_settings = staticmethod(wester_id_setting)

    def dispatch(self, request, *args, **kwargs):
        if not wester_id_enabled():
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        # The library reads the endpoints when the view is built; that waits for dispatch here.
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request):
        self.OIDC_OP_AUTH_ENDPOINT = self.get_settings("OIDC_OP_AUTHORIZATION_ENDPOINT")
        self.OIDC_RP_CLIENT_ID = self.get_settings("OIDC_RP_CLIENT_ID")
        return super().get(request)


class WesterIdCallbackView(OIDCAuthenticationCallbackView):
    """The provider's answer; a refused token exchange (a wrong PKCE verifier, say) is a failed sign-in."""

    get_settings = staticmethod(wester_id_setting)

    def dispatch(self, request, *args, **kwargs):
        if not wester_id_enabled():
            raise Http404
        try:
            return super().dispatch(request, *args, **kwargs)
        except requests.RequestException as exc:
            logger.warning("WESTER ID sign-in failed at the provider: %s", exc)
            return self.login_failure()


def provider_logout_url(request: HttpRequest) -> str:
    """Where sign-out sends a WESTER ID member: the provider's end of session, then back to the site."""
    home = absolutify(request, reverse("home"))
    id_token = request.session.get("oidc_id_token")
    if not id_token or not wester_id_enabled():
        return home
    endpoint = provider_metadata().get("end_session_endpoint")
    if not endpoint:
        return home
    query = urlencode(
        {"id_token_hint": id_token, "post_logout_redirect_uri": home, "client_id": settings.OIDC_RP_CLIENT_ID}
    )
    return f"{endpoint}?{query}"
