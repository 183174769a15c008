"""Django settings: every value comes from madoguchi.config (the environment), read once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy

from madoguchi import config as _config
from madoguchi import safety as _safety
from madoguchi.logs import logging_config
from madoguchi.observability import init_sentry

CONFIG = _config.load()
BASE_DIR: Path = _config.BASE_DIR
DATA_DIR: Path = _config.DATA_DIR

DEBUG = CONFIG.web.debug
# Secure mode refuses to start with the development key, without trusted proxies or with loopback vendor networks,
# unless MADOGUCHI_ALLOW_INSECURE names the check (madoguchi.safety); checked before anything is started.
INSECURE_OVERRIDES = _safety.enforce(CONFIG)
SECRET_KEY = CONFIG.web.secret_key
SECRET_KEY_FALLBACKS = CONFIG.web.secret_key_fallbacks
# Host routing is done against the Domain table by the tenant middleware (an unknown host gets a 404 page), so
# Django's own host list may stay open; production may narrow it with DJANGO_ALLOWED_HOSTS.
ALLOWED_HOSTS = CONFIG.web.allowed_hosts
MADOGUCHI_DOMAIN = CONFIG.web.vendor_domain

# --- Tenancy (django-tenants: one schema per municipality) -----------------------------------------------------
ACCOUNT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "apps.security",
]
SHARED_APPS = [
    "django_tenants",
    "tenants",
    *ACCOUNT_APPS,
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # allauth's security-key list uses it
    "rest_framework",
    "drf_spectacular",
    # Swagger UI and Redoc as our own static files (no CDN; /api/v1/docs/ and /api/v1/redoc/).
    "drf_spectacular_sidecar",
    "console",
    "console.maintenance",
    "console.availability",
    "console.support",
    "madoguchi",
]
TENANT_APPS = [
    *ACCOUNT_APPS,
    "apps.booking",
    "apps.issuance",
]
INSTALLED_APPS = list(dict.fromkeys(SHARED_APPS + TENANT_APPS))

TENANT_MODEL = "tenants.Municipality"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "madoguchi.urls_public"
ROOT_URLCONF = "madoguchi.urls_tenant"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
# New cities are cloned from this schema, kept migrated by tenants.provisioning (see docs/tenancy.md).
TENANT_BASE_SCHEMA = "city_template"
TENANT_CREATION_FAKES_MIGRATIONS = CONFIG.web.tenant_creation == "clone"
TENANT_CREATION = CONFIG.web.tenant_creation
# Spare clones of the template kept ready, so that creating a city is a rename (tenants/pool.py); 0 turns it off.
TENANT_POOL_SIZE = int(os.environ.get("MADOGUCHI_TENANT_POOL_SIZE", "3"))
BOOKING_MAIL_SYNC = CONFIG.web.booking_mail_sync
# Residents' limits (apps.booking.resident.services.RATE_LIMITS): overrides {name: (attempts, seconds)}.
BOOKING_RATE_LIMITS: dict[str, tuple[int, int]] = {}
# MADOGUCHI_BENCH_LIMITS=true, for benchmarks and load tests only (bench/run.py): all their clients come from
# 127.0.0.1, so the per-address limits and hold caps are multiplied by this. Refused in secure mode.
if CONFIG.web.bench_limits and CONFIG.web.secure:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "MADOGUCHI_BENCH_LIMITS is for benchmarks only and is refused with MADOGUCHI_SECURE"
    )
BOOKING_ADDRESS_LIMIT_FACTOR = 1000 if CONFIG.web.bench_limits else 1
# Manage links mailed before the per-city token salt are accepted for visits before this date (the deploy's date,
# 2026-12-06, plus the longest booking window, 180 days, and a day): empty it once that date has passed.
BOOKING_LEGACY_TOKEN_UNTIL = "2027-06-05"  # noqa: S105 (a date, not a secret)
# Deploys skip cities that are already migrated and run the rest in parallel (tenants.migration).
GET_EXECUTOR_FUNCTION = "tenants.migration.get_executor"
TENANT_MULTIPROCESSING_MAX_PROCESSES = 2
TENANT_LIMIT_SET_CALLS = False
# Each process maps hosts to cities in memory and checks the routing version at most this often (tenants.routing):
# a suspended city or a new host takes effect everywhere within this bound.
TENANT_ROUTES_POLL_SECONDS = 1.0

# --- Database ----------------------------------------------------------------------------------------------------
_db: dict[str, Any]
if CONFIG.database.embedded:
    # A Unix socket in the data directory: the embedded server listens on no TCP port.
    _db = {
        "NAME": CONFIG.database.embedded_name,
        "USER": "postgres",
        "HOST": str(DATA_DIR / "pg"),
        "PORT": "",
        "PASSWORD": "",
    }
else:
    _db = environ.Env.db_url_config(CONFIG.database.url)
_db["ENGINE"] = "django_tenants.postgresql_backend"
_db.setdefault("OPTIONS", {})
_db["CONN_HEALTH_CHECKS"] = True
# Keep connections between requests (a new one per request cost more than the page); django-tenants sets the
# search_path on every request, so a kept connection never carries one city's schema into another's request.
_db["CONN_MAX_AGE"] = CONFIG.database.conn_max_age
_db["TEST"] = {"NAME": f"test_{_db['NAME']}"}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMBEDDED_DATABASE = CONFIG.database.embedded
# Per-city logical dumps (manage.py city_dump, the nightly ops.city_dump_nightly; docs/operations.md, "Backups").
BACKUP_DIR: Path = DATA_DIR / "backups"
BACKUP_BATCH_SIZE = int(os.environ.get("MADOGUCHI_BACKUP_BATCH_SIZE", "250"))  # cities per pg_dump run
if EMBEDDED_DATABASE:
    from madoguchi import embedded

    # Started on first use by any process (web, worker, beat, manage.py); stopped by `make stop` or the Makefile.
    if not embedded.is_running():
        embedded.start()

# --- Cache and Celery --------------------------------------------------------------------------------------------
_cache_key = {
    "KEY_PREFIX": CONFIG.redis.cache_prefix,
    "KEY_FUNCTION": "django_tenants.cache.make_key",
    "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
}
if CONFIG.redis.url:
    CACHES = {
        "default": {
            # Django's RedisCache, failing open: Redis down is a cache miss, not a 500 (base/cache.py).
            "BACKEND": "base.cache.FailOpenRedisCache",
            "LOCATION": CONFIG.redis.url,
            **_cache_key,
        }
    }
    CELERY_BROKER_URL = CONFIG.redis.url
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
else:
    # A cache every process shares (a table in the public schema), and a real broker on the local disk.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "madoguchi_cache",
            **_cache_key,
        }
    }
    BROKER_DIR = DATA_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = CONFIG.redis.celery_queue
# Task modules other than an app's `tasks.py` (which autodiscovery finds): test_beat.py checks none is missing.
CELERY_IMPORTS = [
    "apps.security.audit_tasks",
    "apps.security.signs_tasks",
    "apps.booking.calendar.tasks",
    "apps.booking.reminders.tasks",
    "apps.booking.reservations.tasks",
    "apps.issuance.imports.tasks",
    "apps.security.api_key_tasks",
    "apps.security.api_idempotency",
    "madoguchi.tasks",
]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "Asia/Tokyo"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {
        "task": "apps.security.tasks.clear_expired_sessions_everywhere",
        "schedule": 3600.0,
    },
    "audit-verify": {"task": "apps.security.tasks.audit_verify_daily", "schedule": 24 * 3600.0},
    "dependency-audit": {
        "task": "apps.security.audit_tasks.dependency_audit_daily",
        "schedule": crontab(hour=6, minute=0),
    },
    "booking-sync-slots": {"task": "apps.booking.tasks.sync_slots_everywhere", "schedule": 3600.0},
    "booking-release-holds": {"task": "apps.booking.tasks.release_holds_everywhere", "schedule": 60.0},
    "booking-reminders": {"task": "apps.booking.tasks.send_reminders_everywhere", "schedule": 600.0},
    # The booking mails' outbox: mails whose message the broker lost, and failed ones to retry (docs/booking.md).
    "booking-mails": {
        "task": "apps.booking.reservations.tasks.send_booking_mails_everywhere",
        "schedule": 60.0,
    },
    "issuance-import-files-cleanup": {
        "task": "apps.issuance.tasks_import.cleanup_import_files_everywhere",
        "schedule": crontab(hour=3, minute=30),
    },
    # The REST API (docs/api.md): the mail before a key expires, once a day in office hours; Idempotency-Keys
    # older than 24 hours are ignored at once and deleted hourly.
    "api-keys-expiry-warn": {
        "task": "security.api_keys_expiry_warn_everywhere",
        "schedule": crontab(hour=9, minute=0),
    },
    # One logical dump per city a night, the newest 14 kept (platform/madoguchi/backups.py, docs/operations.md).
    "city-dumps": {"task": "ops.city_dump_nightly", "schedule": crontab(hour=2, minute=15)},
    "api-idempotency-purge": {
        "task": "apps.security.api_idempotency.purge_expired_idempotency_keys_everywhere",
        "schedule": 3600.0,
    },
    # nginx's certificates (the EV ones are renewed by hand): a mail N days before one expires (madoguchi.tls).
    "tls-expiry-remind": {"task": "ops.tls_expiry_remind", "schedule": crontab(hour=9, minute=15)},
    # Every city and module up, down or in maintenance, once a minute (console.availability.probe).
    "availability-probe": {
        "task": "console.availability.probe",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}
# Tops the warm pool of spare city schemas up after deploys and bursts of new cities (tenants/pool.py).
CELERY_BEAT_SCHEDULE["tenants-pool-refill"] = {"task": "tenants.tasks.pool_refill", "schedule": 300.0}

# --- Requests ----------------------------------------------------------------------------------------------------
MIDDLEWARE = [
    "madoguchi.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "madoguchi.headers.SecurityHeadersMiddleware",
    "csp.middleware.CSPMiddleware",
    "apps.security.middleware.AttackSignMiddleware",
    # Static files need no city: served before host routing, so error pages on unknown hosts are styled too.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.MunicipalityMiddleware",
    # Anonymous resident pages from the cache, before the session, auth and audit middleware (and the maintenance
    # check's hook, which it calls first).
    "madoguchi.middleware.ResidentPageMiddleware",
    # A vendor's support session (console.support) comes from the vendor's networks, not the city's: marked here.
    "console.support.middleware.SupportNetworkMiddleware",
    # Staff pages from outside the allowed networks are refused before a session or a login form exists.
    "apps.security.middleware.StaffNetworkMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # An address holding a 個人番号 (typed or bookmarked) is refused before any page copies it into its links.
    "apps.security.middleware.IndividualNumberInAddressMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "madoguchi.middleware.LogContextUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Support sessions: the grant re-checked, read-only, every use audited (console.support.middleware).
    "console.support.middleware.SupportSessionMiddleware",
    "apps.security.middleware.StaffSessionMiddleware",
    "apps.security.audit_middleware.AuditWritesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
WSGI_APPLICATION = "madoguchi.wsgi.application"
ASGI_APPLICATION = "madoguchi.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "madoguchi.context_processors.site",
                "console.context_processors.maintenance",
                "console.support.context_processors.support_session",
            ],
        },
    }
]

# --- Accounts (django-allauth) -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "security.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_ADAPTER = "apps.security.adapters.StaffAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "/accounts/login/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = CONFIG.web.secure
CSRF_COOKIE_SECURE = CONFIG.web.secure
# The city's policy ends sessions earlier (idle and absolute timeouts, apps.security.middleware).
SESSION_COOKIE_AGE = 24 * 3600
# Which limit guards what (docs/security.md, "Second factor, sessions and lockout"):
# - Passwords and second-factor codes: our lockout (apps.security.lockout), per account and per address bucket, in
#   the counter table, fail closed, as AccountLock rows that supervisors see and release.
# - allauth's `login_failed` is consumed only by second-factor codes (our adapter's pre_authenticate does not
#   consume it for passwords, which it would count twice): a burst limit per address, in the cache, inside our
#   lockout. Its per-account part ("…/key") is left out: ours (5 per account) always comes first, so it would only
#   be a second, invisible copy of the same lock.
# - allauth's other limits stay at their defaults, ours double none of them: `login` (login form posts per address),
#   `reauthenticate` (password and code reauthentication per user), `change_password`, `reset_password`,
#   `reset_password_from_key`, `manage_email`. Every per-address limit reads the address our way
#   (StaffAccountAdapter.get_client_ip).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip"}
# Recovery codes and removing or adding an authenticator need the second factor again within this time (seconds;
# allauth's default, named here because apps.security.middleware enforces it for users who have a second factor).
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
# Every form refuses a 個人番号 in any field (apps/security/mynumber.py).
ACCOUNT_FORMS = {
    name: f"apps.security.forms.{cls}"
    for name, cls in {
        "login": "LoginForm",
        "reauthenticate": "ReauthenticateForm",
        "add_email": "AddEmailForm",
        "change_password": "ChangePasswordForm",
        "set_password": "SetPasswordForm",
        "reset_password": "ResetPasswordForm",
        "reset_password_from_key": "ResetPasswordKeyForm",
    }.items()
}
MFA_FORMS = {
    name: f"apps.security.forms.{cls}"
    for name, cls in {
        "authenticate": "MFAAuthenticateForm",
        "reauthenticate": "MFAReauthenticateForm",
        "activate_totp": "ActivateTOTPForm",
        "add_webauthn": "AddWebAuthnForm",
        "edit_webauthn": "EditWebAuthnForm",
    }.items()
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = not CONFIG.web.secure  # http://*.localhost during development
MFA_TOTP_ISSUER = "Madoguchi"
# TOTP secrets and recovery-code seeds encrypted at rest (key derived from SECRET_KEY; apps/security/mfa.py).
MFA_ADAPTER = "apps.security.mfa.MFAAdapter"

# --- Staff access --------------------------------------------------------------------------------------------------
# Client addresses fail closed behind these proxies (apps.security.network); secure mode requires them, and refuses
# loopback in the vendor networks (madoguchi.safety, INSECURE_OVERRIDES above).
TRUSTED_PROXIES = CONFIG.access.trusted_proxies
VENDOR_ALLOWED_NETWORKS = CONFIG.access.vendor_networks
LOCKOUT_ACCOUNT_FAILURES = 5
LOCKOUT_ADDRESS_FAILURES = 20
LOCKOUT_WINDOW_SECONDS = 15 * 60
LOCKOUT_DURATION_SECONDS = 30 * 60

# --- Mail --------------------------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = CONFIG.mail.default_from
SERVER_EMAIL = CONFIG.mail.default_from
if CONFIG.mail.url:
    vars().update(environ.Env.email_url_config(CONFIG.mail.url))
elif CONFIG.mail.backend == "console":
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(CONFIG.mail.file_path)

# --- Language and time -------------------------------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "frontend" / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
STATIC_ROOT = BASE_DIR / "frontend" / "staticfiles"
# nginx's certificates and the days before expiry the vendor's operators are mailed (ops/nginx/README.md).
TLS_CERT_DIR: Path = CONFIG.tls.cert_dir
TLS_REMIND_DAYS: list[int] = CONFIG.tls.remind_days
# Days before an approved maintenance window its notice shows on the city's pages (console.maintenance).
MAINTENANCE_NOTICE_DAYS = 7
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- API ---------------------------------------------------------------------------------------------------------
# The REST API under /api/v1/ on a city's host (docs/api.md): API keys only (no session), one error format (RFC 9457
# problem details, apps.security.api_auth.exception_handler), a rate limit per key (DEFAULT_THROTTLE_RATES["api_key"],
# counted in the security counters, fail closed).
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # No session authentication anywhere. Every API view derives from apps.security.api_auth.ApiView, which names
    # its own authentication (API keys), permission (scopes) and throttle: DRF resolves these DEFAULT_* classes when
    # rest_framework.views is first imported, so pointing them at apps.security.api_auth would be an import cycle.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_RATES": {"api_key": "600/min"},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "apps.security.api_auth.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Madoguchi API",
    "DESCRIPTION": gettext_lazy(
        "窓口予約（Madoguchi）の自治体向けAPIです。APIキーを Authorization: Bearer で送ってください。"
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # The docs pages load Swagger UI and Redoc from our own static files (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Errors are documented with the type they are sent with, application/problem+json.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.security.api_auth.problem_media_type_hook",
    ],
    # Swagger UI keeps the key typed into "Authorize" only for the tab (no localStorage).
    "SWAGGER_UI_SETTINGS": {
        "persistAuthorization": False,
        "displayOperationId": True,
        "tryItOutEnabled": False,
    },
}
# API keys are stored as HMAC-SHA256(pepper, secret) (apps.security.api_keys). MADOGUCHI_API_KEY_PEPPER lives outside
# the database; secure mode refuses to start without one of at least 32 characters (madoguchi.safety). Unset in
# development: derived from SECRET_KEY under its own label (keys then stop working when SECRET_KEY changes).
API_KEY_PEPPER = _safety.api_key_pepper(SECRET_KEY)
# Rotation: the retired pepper(s), comma-separated; a key that matches one is re-stored under the current pepper on
# its next use (docs/operations.md, "Rotate secrets").
API_KEY_PEPPER_FALLBACKS = [
    p for p in os.environ.get("MADOGUCHI_API_KEY_PEPPER_FALLBACKS", "").split(",") if p
]

# --- Virus scanning of uploads (base.scanning; docs/security.md, "Virus scanning") --------------------------------
# Every upload must pass each scanner. A spec that does not parse stops the start in any mode; none at all is
# refused by secure mode unless MADOGUCHI_ALLOW_INSECURE=no-virus-scanner (madoguchi.safety).
VIRUS_SCANNERS: list[str] = CONFIG.scanning.scanners
VIRUS_SCAN_TIMEOUT: float = CONFIG.scanning.timeout
_safety.check_scanner_specs(VIRUS_SCANNERS, timeout=VIRUS_SCAN_TIMEOUT)

# --- Security headers (the security issue hardens these further) -------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if CONFIG.web.secure:
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

AUDIT_KEY = CONFIG.audit.master_key(SECRET_KEY)  # the audit chain's master key (apps.security.audit_keys)

# --- Observability -----------------------------------------------------------------------------------------------
LOGGING = logging_config(CONFIG.logging)
init_sentry(CONFIG.sentry)

from madoguchi.settings.headers import *  # noqa: E402, F403

CELERY_BEAT_SCHEDULE.update(BEAT_SCHEDULE_SECURITY)  # noqa: F405
