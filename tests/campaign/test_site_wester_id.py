"""WESTER ID sign-in against a real OpenID Connect provider started inside the test suite.

django-oauth-toolkit serves the provider (tests/oidc_provider.py) from the same live server as the
portal, under another host name (127.0.0.1 instead of localhost) so that the provider's session
cookie and the portal's stay apart, as they would on two sites. A ``requests`` session plays the
member's browser; the portal talks to the provider over HTTP with mozilla-django-oidc.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.test import Client

from campaign.models import Member
from campaign.wester_id import WesterIdBackend, provider_metadata
from tests.campaign.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_ID = "wesmo-portal"
CLIENT_SECRET = "portal-secret-for-tests-0123456789abcdef"


def _private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


PROVIDER_KEY = _private_key_pem()


class Browser:
    """A member's browser: one cookie jar per host, redirects followed by hand so each can be checked."""

    def __init__(self) -> None:
        self.session = requests.Session()

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.session.get(url, allow_redirects=False, timeout=20, **kwargs)

    def post(self, url: str, data: dict) -> requests.Response:
        token = next(c.value for c in self.session.cookies if c.name == "csrftoken" and "localhost" in c.domain)
        return self.session.post(url, data=data, headers={"X-CSRFToken": token}, allow_redirects=False, timeout=20)

    def sign_in_at_provider(self, provider_url: str, member_id: str) -> None:
        """The member is signed in at WESTER ID (how is the provider's business)."""
        user = get_user_model().objects.filter(username=f"wester:{member_id}").first()
        user = user or UserFactory(username=f"wester:{member_id}")
        client = Client()
        client.force_login(user)
        self.session.cookies.set("sessionid", client.cookies["sessionid"].value, domain=urlsplit(provider_url).hostname)


@pytest.fixture
def wester_id(live_server, settings):
    return provider_configure(live_server, settings)


def provider_configure(live_server, settings) -> dict:
    """The provider on 127.0.0.1, the portal on localhost, the portal registered as a client."""
    from oauth2_provider.models import Application

    portal = live_server.url
    provider = portal.replace("localhost", "127.0.0.1")
    assert provider != portal
    settings.ROOT_URLCONF = "tests.oidc_provider"
    settings.OAUTH2_PROVIDER = {
        "OIDC_ENABLED": True,
        "OIDC_ISS_ENDPOINT": f"{provider}/o",
        "OIDC_RSA_PRIVATE_KEY": PROVIDER_KEY,
        "PKCE_REQUIRED": True,
        "OAUTH2_VALIDATOR_CLASS": "tests.oidc_provider.WesterIdValidator",
        "SCOPES": {"openid": "OpenID Connect"},
        "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
        "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    }
    settings.WESTER_ID_ISSUER = f"{provider}/o"
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]  # as the settings make it from the issuer
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {**directives, "form-action": ["'self'", provider]}}
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    Application.objects.create(
        name="Wesmo! Stamp Rally portal",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=f"{portal}/oidc/callback/",
        post_logout_redirect_uris=f"{portal}/",
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    cache.clear()  # no discovery document of an earlier test's provider
    return {"portal": portal, "provider": provider}


def _start(browser: Browser, portal: str) -> tuple[str, dict]:
    """Press "Sign in with WESTER ID": the portal answers with the provider's authorization URL."""
    response = browser.get(f"{portal}/oidc/authenticate/?next=/stamps/")
    assert response.status_code == 302
    location = response.headers["Location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _portal_session(browser: Browser) -> SessionStore:
    key = next(c.value for c in browser.session.cookies if c.name == "sessionid" and "localhost" in c.domain)
    return SessionStore(session_key=key)


def _sign_in(browser: Browser, wester_id: dict, member_id: str) -> requests.Response:
    browser.sign_in_at_provider(wester_id["provider"], member_id)
    authorize, _params = _start(browser, wester_id["portal"])
    callback = browser.get(authorize)
    assert callback.status_code == 302, callback.text[:500]
    return browser.get(callback.headers["Location"])


def test_the_portal_reads_the_providers_endpoints_from_its_discovery_document(wester_id):
    metadata = provider_metadata()
    assert metadata["issuer"] == f"{wester_id['provider']}/o"
    assert metadata["authorization_endpoint"] == f"{wester_id['provider']}/o/authorize/"
    assert metadata["token_endpoint"].startswith(wester_id["provider"])
    assert "S256" in metadata.get("code_challenge_methods_supported", ["S256"])


def test_a_discovery_document_naming_another_issuer_is_refused(wester_id, settings):
    settings.WESTER_ID_ISSUER = f"{wester_id['portal']}/o"  # same provider, reached under another name
    with pytest.raises(SuspiciousOperation):
        provider_metadata()


def test_the_sign_in_request_uses_the_code_flow_with_pkce_state_and_nonce(wester_id):
    browser = Browser()
    authorize, params = _start(browser, wester_id["portal"])
    assert authorize.startswith(f"{wester_id['provider']}/o/authorize/")
    assert params["response_type"] == "code" and params["client_id"] == CLIENT_ID
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert "openid" in params["scope"].split()


def test_a_member_signs_in_with_wester_id_and_sees_their_own_stamp_card(wester_id, in_campaign):
    MemberFactory(member_id="W0000123")  # known only from imported transactions: no user yet
    browser = Browser()
    landing = _sign_in(browser, wester_id, "W0000123")
    assert landing.status_code == 302 and landing.headers["Location"] == "/stamps/"
    card = browser.get(f"{wester_id['portal']}/stamps/")
    assert card.status_code == 200
    assert "W0000123" in card.text
    member = Member.objects.get(member_id="W0000123")
    assert member.user.username == "W0000123" and not member.user.has_usable_password()


def test_a_second_sign_in_uses_the_same_user(wester_id, in_campaign):
    _sign_in(Browser(), wester_id, "W0000777")
    first = Member.objects.get(member_id="W0000777").user_id
    browser = Browser()
    _sign_in(browser, wester_id, "W0000777")
    assert Member.objects.get(member_id="W0000777").user_id == first
    assert browser.get(f"{wester_id['portal']}/stamps/").status_code == 200


def test_a_callback_with_a_state_the_portal_never_sent_is_refused(wester_id):
    browser = Browser()
    browser.sign_in_at_provider(wester_id["provider"], "W0000123")
    authorize, _params = _start(browser, wester_id["portal"])
    callback = browser.get(authorize).headers["Location"]
    forged = callback.replace("state=", "state=forged")
    assert browser.get(forged).status_code == 400
    assert browser.get(f"{wester_id['portal']}/stamps/").status_code == 302  # not signed in


def test_an_id_token_whose_nonce_differs_from_the_one_sent_is_refused(wester_id):
    browser = Browser()
    browser.sign_in_at_provider(wester_id["provider"], "W0000123")
    authorize, params = _start(browser, wester_id["portal"])
    session = _portal_session(browser)
    states = session["oidc_states"]
    states[params["state"]]["nonce"] = "another-nonce-than-the-one-in-the-token"
    session["oidc_states"] = states
    session.save()
    response = browser.get(browser.get(authorize).headers["Location"])
    assert response.status_code == 400
    assert not Member.objects.filter(member_id="W0000123").exists()


def test_a_code_exchanged_without_the_right_pkce_verifier_is_refused_by_the_provider(wester_id):
    browser = Browser()
    browser.sign_in_at_provider(wester_id["provider"], "W0000123")
    authorize, params = _start(browser, wester_id["portal"])
    session = _portal_session(browser)
    states = session["oidc_states"]
    states[params["state"]]["code_verifier"] = "x" * 64
    session["oidc_states"] = states
    session.save()
    response = browser.get(browser.get(authorize).headers["Location"])
    assert response.status_code == 302 and response.headers["Location"] == "/login/?failed=1"
    assert browser.get(f"{wester_id['portal']}/stamps/").status_code == 302


def _id_token(wester_id: dict, member_id: str) -> str:
    browser = Browser()
    _sign_in(browser, wester_id, member_id)
    return _portal_session(browser)["oidc_id_token"]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_the_providers_id_token_verifies_and_a_tampered_one_is_refused(wester_id, in_campaign):
    token = _id_token(wester_id, "W0000123")
    backend = WesterIdBackend()
    backend.configure()
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert backend.verify_token(token, nonce=claims["nonce"])["member_id"] == "W0000123"

    # Someone else's member ID with the provider's signature of the original.
    tampered = ".".join([header, _b64({**claims, "member_id": "W0000999"}), signature])
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(tampered, nonce=claims["nonce"])
    # A token signed with the portal's own client secret (HS256) instead of the provider's key.
    forged = jwt.encode({**claims, "member_id": "W0000999"}, CLIENT_SECRET, algorithm="HS256")
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(forged, nonce=claims["nonce"])
    # A token signed with another RSA key under the provider's key id.
    kid = jwt.get_unverified_header(token)["kid"]
    other = jwt.encode(claims, _private_key_pem(), algorithm="RS256", headers={"kid": kid})
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(other, nonce=claims["nonce"])


def test_an_id_token_for_another_client_is_refused(wester_id, in_campaign, settings):
    token = _id_token(wester_id, "W0000123")
    claims = jwt.decode(token, options={"verify_signature": False})
    settings.OIDC_RP_CLIENT_ID = "another-portal"
    backend = WesterIdBackend()
    backend.configure()
    with pytest.raises(SuspiciousOperation, match="another client"):
        backend.verify_token(token, nonce=claims["nonce"])


def test_a_member_id_that_is_a_staff_user_name_is_never_handed_over(wester_id):
    UserFactory(username="W0000123", is_staff=True)
    browser = Browser()
    landing = _sign_in(browser, wester_id, "W0000123")
    assert landing.status_code == 302 and landing.headers["Location"] == "/login/?failed=1"
    assert Member.objects.get(member_id="W0000123").user is None


def test_sign_out_ends_the_portal_session_and_the_providers(wester_id, in_campaign):
    browser = Browser()
    _sign_in(browser, wester_id, "W0000123")
    browser.get(f"{wester_id['portal']}/stamps/")  # a page with a form: the CSRF cookie
    response = browser.post(f"{wester_id['portal']}/logout/", {})
    assert response.status_code == 302
    end_session = response.headers["Location"]
    assert end_session.startswith(f"{wester_id['provider']}/o/logout/")
    assert "id_token_hint=" in end_session
    assert browser.get(f"{wester_id['portal']}/stamps/").status_code == 302  # signed out of the portal

    back = browser.get(end_session)
    assert back.status_code == 302 and back.headers["Location"] == f"{wester_id['portal']}/"
    # Signed out of the provider too: a new sign-in is sent to the provider's login, not back with a code.
    authorize, _params = _start(browser, wester_id["portal"])
    assert "code=" not in browser.get(authorize).headers["Location"]
