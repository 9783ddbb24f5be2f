"""Settings for the Wesmo! Stamp Rally Mission portal.

One file, driven by the environment (SPEC 3.4). With nothing set, the portal runs on a
SQLite file in the checkout with Celery tasks run inline, so ``manage.py runserver``
works on a fresh clone; ``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch to
PostgreSQL and Redis with real workers.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from campaign.env import env_bool, env_datetime, env_int, env_list, env_str, env_url, origin_of
from campaign.sentry import sentry_init

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)

# No secret in the repo: without DJANGO_SECRET_KEY the portal uses a key marked insecure,
# which `check --deploy` reports (security.W009), so production cannot miss setting one.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "") or "django-insecure-development-only-key-wesmo-stamprally"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# The portal's clock (SPEC 3.4): every rule reads campaign.clock.now(), which returns
# this time when it is set.
PORTAL_NOW = env_datetime("PORTAL_NOW")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "simple_history",
    "campaign.apps.AxesConfig",  # django-axes, named in Japanese
    "csp",
    "campaign",
    "missions",
    "merchants",
    "lottery",
]

MIDDLEWARE = [
    "campaign.middleware.RequestIdMiddleware",
    # Before the host check and the HTTPS redirect: a load balancer's probe is answered as it comes.
    "campaign.health.HealthMiddleware",
    "campaign.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "campaign.middleware.PermissionsPolicyMiddleware",
    # Before any view or admin query: a NUL in a URL would reach PostgreSQL (a DataError, a 500).
    "campaign.middleware.ForbiddenCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "campaign.middleware.AdminObjectIdMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into a 429 page.
    "axes.middleware.AxesMiddleware",
]

# Login attempts are rate-limited for members and staff alike (django-axes): after
# AXES_FAILURE_LIMIT failures for one user name from one address, that pair waits.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "campaign.wester_id.WesterIdBackend",
]
AXES_FAILURE_LIMIT = env_int("PORTAL_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("PORTAL_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_CALLABLE = "campaign.views.login_locked_out"

ROOT_URLCONF = "campaign.urls"
WSGI_APPLICATION = "campaign.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite in the checkout unless DATABASE_URL says otherwise.
_database_url = env_url("DATABASE_URL", ("postgres", "postgresql", "sqlite"))
if _database_url:
    try:
        _db = dj_database_url.parse(_database_url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL={_database_url!r} cannot be read: {exc}") from None
else:
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker or an import writes.
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].update({"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"})
else:
    # The tables live in memory or on SSD, where a random read costs little more than a sequential
    # one. With PostgreSQL's default (4, for spinning disks) the scoring of a few thousand members
    # read every ledger line of the campaign rather than theirs through the member index: the rule
    # preview's dry run of 5,000 members took twice as long at 200,000 members, and grows with the table.
    _db.setdefault("OPTIONS", {}).setdefault("options", "-c random_page_cost=1.1")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Members sign in with WESTER ID, an OpenID Connect provider (campaign/wester_id.py, README "WESTER ID
# sign-in"): endpoints come from the issuer's discovery document. No issuer: no WESTER ID button.
WESTER_ID_ISSUER = env_str("WESTER_ID_ISSUER", "")
WESTER_ID_MEMBER_ID_CLAIM = env_str("WESTER_ID_MEMBER_ID_CLAIM", "member_id")
OIDC_RP_CLIENT_ID = env_str("WESTER_ID_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_str("WESTER_ID_CLIENT_SECRET", "")
OIDC_RP_SIGN_ALGO = env_str("WESTER_ID_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("WESTER_ID_SCOPES", "openid")
OIDC_USE_PKCE = True
OIDC_STORE_ID_TOKEN = True  # the hint for the provider's end of session on sign-out
OIDC_TIMEOUT = 10
OIDC_AUTHENTICATE_CLASS = "campaign.wester_id.WesterIdSignInView"
OIDC_CALLBACK_CLASS = "campaign.wester_id.WesterIdCallbackView"
OIDC_OP_LOGOUT_URL_METHOD = "campaign.wester_id.provider_logout_url"
LOGIN_REDIRECT_URL_FAILURE = "/login/?failed=1"
# Where the site links お問い合わせ (contact) and the Wesmo! service site.
PORTAL_CONTACT_URL = env_str("PORTAL_CONTACT_URL", "")  # unset: the FAQ's contact section
PORTAL_SERVICE_URL = env_str("PORTAL_SERVICE_URL", "")  # the Wesmo! service site, linked when set
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "stamp-card"
LOGOUT_REDIRECT_URL = "home"

# Japanese first, English second; every time is shown in Japan time.
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# 「3月20日(金) 12:00」 / "Fri 20 Mar 12:00" wherever Django writes a datetime (campaign/formats).
FORMAT_MODULE_PATH = ["campaign.formats"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("PORTAL_MANIFEST_STATIC", False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

# Uploads: transaction files can be large; Django streams them to disk past this size.
PORTAL_IMPORT_MAX_BYTES = env_int("PORTAL_IMPORT_MAX_BYTES", 200 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# XLSX sheets are streamed but their shared strings are held: beyond this much unpacked sheet XML
# (about 600,000 rows) a workbook is refused and CSV asked for, so an import stays under 300 MB.
PORTAL_IMPORT_XLSX_MAX_SHEET_XML = env_int("PORTAL_IMPORT_XLSX_MAX_SHEET_XML", 300 * 1000 * 1000)
# An import that has saved no progress for this long is marked failed (its process was lost).
PORTAL_IMPORT_STALE_AFTER = timedelta(minutes=env_int("PORTAL_IMPORT_STALE_MINUTES", 15))

# Celery: with no broker, tasks run inline in the calling process and their errors propagate.
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", ("redis", "rediss", "amqp", "memory"))
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Without a broker an uploaded file is imported on a thread of the web process (campaign.imports.uploads).
PORTAL_IMPORT_THREAD = env_bool("PORTAL_IMPORT_THREAD", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A file import waits for the scoring group it fans out: results of the tasks it asks for (only
# those: ignore_result stays the default) are kept briefly in the broker's Redis.
CELERY_RESULT_BACKEND = CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis", "rediss")) else None
CELERY_RESULT_EXPIRES = timedelta(hours=1)
# A task whose worker died unacknowledged comes back after the visibility timeout (Redis's default
# is one hour): ten minutes, above the hard time limit so that no running task is handed out twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
CELERY_TASK_SOFT_TIME_LIMIT = 420
CELERY_TASK_TIME_LIMIT = 480
# Members due for scoring longer than this (their task lost: broker down, worker killed) are scored
# by the sweep, every half of it: a record is scored within about 1.5 × this after the broker returns.
PORTAL_SCORING_SWEEP_AFTER = env_int("PORTAL_SCORING_SWEEP_AFTER", 60)
CELERY_BEAT_SCHEDULE = {
    "imports-stale-fail": {"task": "campaign.tasks.imports_stale_fail", "schedule": timedelta(minutes=5)},
    "scoring-due-sweep": {
        "task": "missions.tasks.scoring_due_sweep",
        "schedule": timedelta(seconds=max(PORTAL_SCORING_SWEEP_AFTER // 2, 5)),
    },
}

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "campaign.api.api_exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "campaign.auth.SystemTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["campaign.jsonio.SafeJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["campaign.jsonio.BoundedJSONParser"],
    "DEFAULT_THROTTLE_RATES": {
        "system": env_str("PORTAL_SYSTEM_THROTTLE", "6000/min"),
        "member": env_str("PORTAL_MEMBER_THROTTLE", "120/min"),
        "anon": env_str("PORTAL_ANON_THROTTLE", "600/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Wesmo! Stamp Rally Mission API",
    "DESCRIPTION": "System API for the Wesmo! system and app: transactions, entries, video views, progress, lottery.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "campaign.schema.error_responses_add"],
    # Swagger UI asks validator.swagger.io for a badge unless told not to: nothing from outside.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# Caches: Redis when PORTAL_CACHE_URL names one (shared by all web processes), else local memory.
_cache_url = env_url("PORTAL_CACHE_URL", ("redis", "rediss"))
if _cache_url:
    CACHES = {"default": {"BACKEND": "campaign.cache.KeptClientRedisCache", "LOCATION": _cache_url}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# HTTPS: on whenever DEBUG is off, so a production deploy that forgets a variable is secure
# (secure cookies, redirect to https, HSTS); PORTAL_HTTPS=0 turns it off for a plain-http test
# box. `make run` (DJANGO_DEBUG=1) serves plain http. The tests turn it off (conftest.py).
PORTAL_HTTPS = env_bool("PORTAL_HTTPS", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_ENGINE = "campaign.sessions"  # Django's database sessions, read with plain SQL (campaign/sessions.py)
SESSION_COOKIE_SECURE = PORTAL_HTTPS
CSRF_COOKIE_SECURE = PORTAL_HTTPS
SECURE_SSL_REDIRECT = PORTAL_HTTPS
# A probe calls a container over plain http by its address: health and metrics are never redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = 31536000 if PORTAL_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PORTAL_HTTPS
SECURE_HSTS_PRELOAD = PORTAL_HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# The browser features no page of the portal uses (campaign.middleware.PermissionsPolicyMiddleware).
PORTAL_PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)
# Content-Security-Policy (django-csp): every script and style from the portal itself, no inline
# script. Inline styles stay allowed: templates set widths (a stamp's meter) and the API docs'
# ReDoc injects its styles; a style cannot run code. ReDoc's search runs in a blob: worker; a
# video may be played from a blob: its page made (the browser test seeks in one).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        # Signing out ends the WESTER ID session too: the form's redirect goes to the provider.
        "form-action": [SELF, *([origin_of(WESTER_ID_ISSUER)] if WESTER_ID_ISSUER else [])],
        "frame-ancestors": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"

IMPORT_EXPORT_SKIP_ADMIN_LOG = False
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True

SIMPLE_HISTORY_HISTORY_ID_USE_UUID = False

# Logs: one JSON object per line with the request id and the member id (campaign.observability)
# unless DEBUG, where people read them; PORTAL_LOG_FORMAT=json or text chooses.
PORTAL_LOG_FORMAT = env_str("PORTAL_LOG_FORMAT", "text" if DEBUG else "json")
if PORTAL_LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"PORTAL_LOG_FORMAT={PORTAL_LOG_FORMAT!r}: use json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "campaign.observability.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "campaign.observability.JsonLineFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_context"],
            "formatter": PORTAL_LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env_str("PORTAL_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": "WARNING"},
        "kombu": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
    },
}

# /metrics (Prometheus): staff signed in, or a scraper sending "Authorization: Bearer <token>".
PORTAL_METRICS_TOKEN = env_str("PORTAL_METRICS_TOKEN", "")

# Error reports to Sentry (Django and Celery integrations) when SENTRY_DSN is set; no personal data.
SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN:
    sentry_init(dsn=SENTRY_DSN, environment=env_str("SENTRY_ENVIRONMENT", "production"))
