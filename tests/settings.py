"""The portal's settings plus, for the WESTER ID tests only, a real OpenID Connect provider.

django-oauth-toolkit in OIDC mode plays WESTER ID (tests/oidc_provider.py): its tables exist in
the test database, and its URLs are mounted only by the tests that set ``ROOT_URLCONF`` to
``tests.oidc_provider``. The portal itself is never a provider.
"""

from campaign.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "oauth2_provider"]  # noqa: F405
