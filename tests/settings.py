"""The portal's settings plus, for the WESTER ID tests only, a real OpenID Connect provider.

django-oauth-toolkit in OIDC mode plays WESTER ID (tests/oidc_provider.py): its tables exist in
the test database, and its URLs are mounted only by the tests that set ``ROOT_URLCONF`` to
``tests.oidc_provider``. The portal itself is never a provider.
"""

from campaign.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "oauth2_provider"]  # noqa: F405

# The default hasher spends 0.4 s of CPU on each password by design; the tests set and check
# hundreds (every admin_client, UserFactory and sign-in), so they use Django's fast test hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
