"""Typed configuration read once from the environment, grouped per integration.

Every setting a deployment can change is here, with its default for a developer's machine. settings/ turns
these values into Django settings; nothing else in the project reads os.environ.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import environ

BASE_DIR = Path(__file__).resolve().parents[2]
# Public (it is in the repository): fine on a developer's machine, refused in secure mode (madoguchi.safety).
DEVELOPMENT_SECRET_KEY = "dev-only-insecure-key-change-me-" + "0" * 20
DATA_DIR = Path(os.environ.get("MADOGUCHI_DATA_DIR", BASE_DIR / ".data"))


@dataclass(frozen=True)
class DatabaseConfig:
    url: str
    embedded: bool  # True: the project's own PostgreSQL under .data/pg (pgserver)
    embedded_name: str  # the embedded server's database (tests' workers point this at the test database)
    conn_max_age: int  # seconds a connection is kept between requests


@dataclass(frozen=True)
class RedisConfig:
    url: str | None  # None: the PostgreSQL-backed cache and the filesystem Celery broker under .data/
    celery_queue: str
    cache_prefix: str  # a namespace in a shared cache (tests use one of their own)


@dataclass(frozen=True)
class MailConfig:
    backend: str
    file_path: Path
    default_from: str
    url: str | None


@dataclass(frozen=True)
class SentryConfig:
    dsn: str | None
    environment: str
    traces_sample_rate: float


@dataclass(frozen=True)
class LoggingConfig:
    format: str  # "text" or "json"
    level: str


@dataclass(frozen=True)
class WebConfig:
    debug: bool
    secret_key: str
    # Earlier keys still accepted while verifying (signed links, sessions) and decrypting TOTP secrets, so that
    # rotating DJANGO_SECRET_KEY neither logs everyone out nor makes every second factor unreadable at once.
    secret_key_fallbacks: list[str]
    allowed_hosts: list[str]
    vendor_domain: str  # the public host; cities live at <slug>.<vendor_domain>
    secure: bool  # behind TLS: secure cookies, HSTS, https redirects
    tenant_creation: str  # "clone" (from the template schema) or "migrate"
    booking_mail_sync: bool  # send booking mails in the request's on_commit instead of a Celery task
    # Benchmarks and load tests only: raise residents' per-address limits (refused with MADOGUCHI_SECURE).
    bench_limits: bool


@dataclass(frozen=True)
class AccessConfig:
    trusted_proxies: list[str]  # peers whose X-Forwarded-For is believed (e.g. the nginx in front)
    vendor_networks: list[str]  # where the vendor's staff may reach the console from
    allow_insecure: list[str]  # secure-mode checks skipped on purpose (madoguchi.safety.OVERRIDABLE), logged
    vendor_alert_emails: list[str]  # who hears of attack signs and new vulnerabilities


@dataclass(frozen=True)
class ScanningConfig:
    # MADOGUCHI_VIRUS_SCANNERS: every upload must pass each of these (base.scanning; docs/security.md, "Virus
    # scanning"). Empty: uploads are not scanned, which secure mode refuses unless overridden (madoguchi.safety).
    scanners: list[str] = field(default_factory=list)
    timeout: float = (
        60.0  # MADOGUCHI_VIRUS_SCAN_TIMEOUT: seconds one scanner may take before the upload is refused
    )


@dataclass(frozen=True)
class AuditConfig:
    # MADOGUCHI_AUDIT_KEY: the one secret the audit chain's per-city keys are derived from (docs/audit-log.md). It
    # lives outside the database on purpose; production must set it (secure mode refuses to start without it) and
    # never change it, or the keyed rows written so far no longer verify. "" = the development default below.
    key: str

    @property
    def key_is_default(self) -> bool:
        return not self.key

    def master_key(self, secret_key: str) -> str:
        """The configured key or, in development only, one derived from SECRET_KEY under its own purpose label."""
        if self.key:
            return self.key
        label = b"madoguchi-audit-master-key:development-default"
        return hmac.new(secret_key.encode("utf-8"), label, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class TlsConfig:
    # Where nginx's certificates are (ops/nginx/README.md): wildcard.<domain>.crt and <host>.crt for each host outside
    # the wildcard. The expiry reminder (madoguchi.tls) reads them, so the worker running it must see this folder.
    cert_dir: Path
    remind_days: list[int]  # mail the vendor's operators this many days before a certificate expires


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig
    redis: RedisConfig
    mail: MailConfig
    sentry: SentryConfig
    logging: LoggingConfig
    web: WebConfig
    access: AccessConfig
    audit: AuditConfig
    scanning: ScanningConfig = ScanningConfig()
    tls: TlsConfig = TlsConfig(cert_dir=Path("/etc/ssl/madoguchi"), remind_days=[30, 7])


def embedded_database_url(database: str = "madoguchi") -> str:
    """The URL of the embedded server: it listens on a Unix socket in its data directory only."""
    socket_dir = quote(str(DATA_DIR / "pg"), safe="")
    return f"postgresql://postgres@{socket_dir}/{database}"


def scanner_specs(value: str) -> list[str]:
    """The scanners' specs: separated by commas, or by semicolons when the value holds any (for a vendor command
    whose arguments hold commas)."""
    return [spec.strip() for spec in value.split(";" if ";" in value else ",") if spec.strip()]


def load() -> Config:
    env = environ.Env()
    database_url = env.str("DATABASE_URL", default="")
    debug = env.bool("DJANGO_DEBUG", default=False)
    return Config(
        database=DatabaseConfig(
            url=database_url or embedded_database_url(),
            embedded=not database_url,
            embedded_name=env.str("MADOGUCHI_EMBEDDED_DB", default="madoguchi"),
            conn_max_age=env.int("DATABASE_CONN_MAX_AGE", default=60),
        ),
        redis=RedisConfig(
            url=env.str("REDIS_URL", default="") or None,
            celery_queue=env.str("MADOGUCHI_CELERY_QUEUE", default="madoguchi"),
            cache_prefix=env.str("MADOGUCHI_CACHE_PREFIX", default=""),
        ),
        mail=MailConfig(
            backend=env.str("EMAIL_BACKEND", default="file"),
            file_path=Path(env.str("EMAIL_FILE_PATH", default=str(DATA_DIR / "mail"))),
            default_from=env.str("DEFAULT_FROM_EMAIL", default="Madoguchi <no-reply@madoguchi.localhost>"),
            url=env.str("EMAIL_URL", default="") or None,
        ),
        sentry=SentryConfig(
            dsn=env.str("SENTRY_DSN", default="") or None,
            environment=env.str("SENTRY_ENVIRONMENT", default="development"),
            traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        ),
        logging=LoggingConfig(
            format=env.str("LOG_FORMAT", default="text"),
            level=env.str("LOG_LEVEL", default="INFO"),
        ),
        web=WebConfig(
            debug=debug,
            # A fixed development key is only acceptable because secure mode refuses to start with it
            # (madoguchi.safety) and `check --deploy` reports it.
            secret_key=env.str("DJANGO_SECRET_KEY", default=DEVELOPMENT_SECRET_KEY),
            secret_key_fallbacks=env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[]),
            allowed_hosts=env.list("DJANGO_ALLOWED_HOSTS", default=["*"]),
            vendor_domain=env.str("MADOGUCHI_DOMAIN", default="localhost"),
            secure=env.bool("MADOGUCHI_SECURE", default=False),
            tenant_creation=env.str("MADOGUCHI_TENANT_CREATION", default="clone"),
            booking_mail_sync=env.bool("MADOGUCHI_BOOKING_MAIL_SYNC", default=False),
            bench_limits=env.bool("MADOGUCHI_BENCH_LIMITS", default=False),
        ),
        access=AccessConfig(
            trusted_proxies=env.list("MADOGUCHI_TRUSTED_PROXIES", default=[]),
            # Loopback for development (`make run`); secure mode refuses loopback unless overridden (safety.py).
            vendor_networks=env.list("MADOGUCHI_VENDOR_NETWORKS", default=["127.0.0.0/8", "::1/128"]),
            allow_insecure=[
                name.strip() for name in env.list("MADOGUCHI_ALLOW_INSECURE", default=[]) if name.strip()
            ],
            vendor_alert_emails=env.list("MADOGUCHI_VENDOR_ALERT_EMAILS", default=[]),
        ),
        audit=AuditConfig(key=env.str("MADOGUCHI_AUDIT_KEY", default="")),
        scanning=ScanningConfig(
            scanners=scanner_specs(env.str("MADOGUCHI_VIRUS_SCANNERS", default="")),
            timeout=env.float("MADOGUCHI_VIRUS_SCAN_TIMEOUT", default=60.0),
        ),
        tls=TlsConfig(
            cert_dir=Path(env.str("MADOGUCHI_TLS_DIR", default="/etc/ssl/madoguchi")),
            remind_days=sorted(
                {int(days) for days in env.list("MADOGUCHI_TLS_REMIND_DAYS", default=["30", "7"])}
            ),
        ),
    )
