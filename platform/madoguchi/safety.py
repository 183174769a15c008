"""Secure mode refuses to start on settings that fail open (issue 10, items 3 and 4).

With `MADOGUCHI_SECURE=true` the settings module calls `enforce()` before anything is started, and the process
stops with ImproperlyConfigured, naming the variable to set, when:

- `DJANGO_SECRET_KEY` is unset, the public development key, or shorter than 50 characters: with a known key anyone
  mints manage links, email-first links and allauth confirmation keys. Never skippable.
- `MADOGUCHI_TRUSTED_PROXIES` is unset (`no-trusted-proxy`): behind the documented nginx every request would come
  from the proxy's address, so every per-address limit would be one global limit.
- `MADOGUCHI_VENDOR_NETWORKS` includes loopback (`loopback-vendor`): behind a proxy on the same machine every
  request comes from loopback, so the console would be open to the whole internet.
- `MADOGUCHI_AUDIT_KEY` is unset or shorter than 32 characters: the audit chain's keyed hash would be derived from
  SECRET_KEY, which rotates (and the rows written under it would then no longer verify). Never skippable.
- `MADOGUCHI_API_KEY_PEPPER` is unset or shorter than 32 characters: API keys (apps.security.api_keys) would be
  checked against an HMAC keyed from SECRET_KEY, which rotates (every key would then stop at once). Never skippable.
- `MADOGUCHI_VENDOR_NETWORKS` or `MADOGUCHI_TRUSTED_PROXIES` holds an unreadable or too broad range (broader than
  IPv4 /8 or IPv6 /32, apps.security.ranges): "trust everyone" and "the vendor is everyone". Never skippable.
- `DATABASE_URL` is unset: the process would start an embedded PostgreSQL of its own. Never skippable.
- `MADOGUCHI_VIRUS_SCANNERS` is unset (`no-virus-scanner`): uploads would be stored without a virus scan
  (base.scanning; docs/security.md, "Virus scanning"). A spec that does not parse is refused in every mode.

`MADOGUCHI_ALLOW_INSECURE` names the skippable checks a deployment skips on purpose, e.g.
`MADOGUCHI_ALLOW_INSECURE=loopback-vendor,no-trusted-proxy`; each skip is logged as a WARNING at every start.
`make prod-local` (nginx and the app on one machine, browsers on loopback) is the case it is made for: it will set
`MADOGUCHI_ALLOW_INSECURE=loopback-vendor` with `MADOGUCHI_TRUSTED_PROXIES=127.0.0.1/32`.

The same checks are a system check (`manage.py check --deploy`): an error for each problem, a warning for each
one skipped by the override, so the report matches what a secure start would refuse.

Kept free of Django's app registry (plain values in, messages out): it runs while the settings load.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.core.exceptions import ImproperlyConfigured

from apps.security.ranges import MIN_PREFIX_LENGTH, IPNetwork, overlaps_loopback, parse_network, too_broad
from base.scanning import scanners_from_specs
from madoguchi.config import DEVELOPMENT_SECRET_KEY, Config

logger = logging.getLogger(__name__)

OVERRIDE_VARIABLE = "MADOGUCHI_ALLOW_INSECURE"
SECRET_KEY_MIN_LENGTH = 50
AUDIT_KEY_MIN_LENGTH = 32
API_KEY_PEPPER_VARIABLE = "MADOGUCHI_API_KEY_PEPPER"
API_KEY_PEPPER_MIN_LENGTH = 32
LOOPBACK_VENDOR = "loopback-vendor"
NO_TRUSTED_PROXY = "no-trusted-proxy"
NO_VIRUS_SCANNER = "no-virus-scanner"
VIRUS_SCANNERS_VARIABLE = "MADOGUCHI_VIRUS_SCANNERS"
# The checks an override may skip. The secret key and the broad or unreadable ranges are never among them.
OVERRIDABLE = (LOOPBACK_VENDOR, NO_TRUSTED_PROXY, NO_VIRUS_SCANNER)


@dataclass(frozen=True)
class Problem:
    check: str  # the name MADOGUCHI_ALLOW_INSECURE uses for it (only OVERRIDABLE ones can be skipped)
    check_id: str  # the system check's id
    message: str  # names the variable to set

    @property
    def overridable(self) -> bool:
        return self.check in OVERRIDABLE


def _ranges(variable: str, specs: Sequence[str]) -> tuple[list[IPNetwork], list[Problem]]:
    networks: list[IPNetwork] = []
    problems: list[Problem] = []
    for spec in specs:
        try:
            network = parse_network(spec)
        except ValueError:
            problems.append(
                Problem(
                    "unreadable-range", "madoguchi.E104", f"{variable}: {spec!r} is not an address range."
                )
            )
            continue
        if too_broad(network):
            problems.append(
                Problem(
                    "broad-range",
                    "madoguchi.E105",
                    f"{variable}: {spec} is broader than IPv4 /{MIN_PREFIX_LENGTH[4]} or IPv6 "
                    f"/{MIN_PREFIX_LENGTH[6]}; set {variable} to your own networks only.",
                )
            )
        networks.append(network)
    return networks, problems


def api_key_pepper(secret_key: str) -> str:
    """The API keys' pepper (settings.API_KEY_PEPPER): MADOGUCHI_API_KEY_PEPPER, or outside secure mode (which
    refuses to start without it) one derived from SECRET_KEY under its own label."""
    configured = os.environ.get(API_KEY_PEPPER_VARIABLE, "")
    if configured:
        return configured
    label = b"madoguchi-api-key-pepper:development-default"
    return hmac.new(secret_key.encode("utf-8"), label, hashlib.sha256).hexdigest()


def problems(
    *,
    secret_key: str,
    audit_key: str,
    trusted_proxies: Sequence[str],
    vendor_networks: Sequence[str],
    api_key_pepper: str | None = None,
    virus_scanners: Sequence[str] | None = None,
    embedded_database: bool = False,
) -> list[Problem]:
    """What a secure deployment must not run with (empty: nothing). `api_key_pepper` or `virus_scanners` None: not
    checked."""
    found: list[Problem] = []
    if embedded_database:
        found.append(
            Problem(
                "embedded-database",
                "madoguchi.E109",
                "DATABASE_URL is unset: the process would start its own embedded PostgreSQL under "
                "MADOGUCHI_DATA_DIR, a database no other server, backup or replica knows (a forgotten secret in a "
                "deployment, say). Set DATABASE_URL to the production server (through PgBouncer). This check "
                "cannot be skipped.",
            )
        )
    if virus_scanners is not None and not virus_scanners:
        found.append(
            Problem(
                NO_VIRUS_SCANNER,
                "madoguchi.E108",
                f"{VIRUS_SCANNERS_VARIABLE} is unset: uploads would be stored without a virus scan. Set it to the "
                "scanners every upload must pass (e.g. clamd:unix:///run/clamav/clamd.ctl; docs/security.md, "
                f'"Virus scanning"), or, where no upload can come from outside, {OVERRIDE_VARIABLE}={NO_VIRUS_SCANNER}.',
            )
        )
    if api_key_pepper is not None and len(api_key_pepper) < API_KEY_PEPPER_MIN_LENGTH:
        found.append(
            Problem(
                "api-key-pepper",
                "madoguchi.E107",
                f"{API_KEY_PEPPER_VARIABLE} is unset or shorter than {API_KEY_PEPPER_MIN_LENGTH} characters: set it "
                "to a random value kept outside the database "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))'); changing it later stops every API "
                "key (docs/api.md). This check cannot be skipped.",
            )
        )
    if len(audit_key) < AUDIT_KEY_MIN_LENGTH:
        found.append(
            Problem(
                "audit-key",
                "madoguchi.E106",
                "MADOGUCHI_AUDIT_KEY is unset or shorter than "
                f"{AUDIT_KEY_MIN_LENGTH} characters: set it once to a random value kept outside the database "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))') and never change it "
                "(docs/audit-log.md). This check cannot be skipped.",
            )
        )
    if not secret_key or secret_key == DEVELOPMENT_SECRET_KEY:
        found.append(
            Problem(
                "secret-key",
                "madoguchi.E101",
                "DJANGO_SECRET_KEY is unset or the public development key: set DJANGO_SECRET_KEY to a random value "
                f"of at least {SECRET_KEY_MIN_LENGTH} characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(64))'). This check cannot be skipped.",
            )
        )
    elif len(secret_key) < SECRET_KEY_MIN_LENGTH:
        found.append(
            Problem(
                "secret-key",
                "madoguchi.E101",
                f"DJANGO_SECRET_KEY is shorter than {SECRET_KEY_MIN_LENGTH} characters: set DJANGO_SECRET_KEY to a "
                "longer random value. This check cannot be skipped.",
            )
        )
    _proxies, proxy_problems = _ranges("MADOGUCHI_TRUSTED_PROXIES", trusted_proxies)
    found.extend(proxy_problems)
    if not trusted_proxies:
        found.append(
            Problem(
                NO_TRUSTED_PROXY,
                "madoguchi.E102",
                "MADOGUCHI_TRUSTED_PROXIES is unset: set MADOGUCHI_TRUSTED_PROXIES to the address of the proxy in "
                "front of the app (e.g. 10.0.0.5/32), or, if clients really connect directly, "
                f"{OVERRIDE_VARIABLE}={NO_TRUSTED_PROXY}.",
            )
        )
    vendor, vendor_problems = _ranges("MADOGUCHI_VENDOR_NETWORKS", vendor_networks)
    found.extend(vendor_problems)
    if any(overlaps_loopback(network) for network in vendor):
        found.append(
            Problem(
                LOOPBACK_VENDOR,
                "madoguchi.E103",
                "MADOGUCHI_VENDOR_NETWORKS includes loopback (127.0.0.0/8 or ::1; it is the development default): "
                "set MADOGUCHI_VENDOR_NETWORKS to the vendor office's ranges, or, when a proxy and browsers share "
                f"this machine on purpose (make prod-local), {OVERRIDE_VARIABLE}={LOOPBACK_VENDOR}.",
            )
        )
    return found


def check_scanner_specs(specs: Sequence[str], *, timeout: float) -> None:
    """Refuse to start, in any mode, on a scanner spec that does not parse: a typo must not pass for a scanner."""
    try:
        scanners_from_specs(specs, timeout=timeout)
    except ValueError as problem:
        raise ImproperlyConfigured(str(problem)) from problem


def overrides(config: Config) -> list[str]:
    """The checks MADOGUCHI_ALLOW_INSECURE skips; an unknown name or the secret key is refused, in any mode."""
    named = list(dict.fromkeys(config.access.allow_insecure))
    unknown = [name for name in named if name not in OVERRIDABLE]
    if unknown:
        raise ImproperlyConfigured(
            f"{OVERRIDE_VARIABLE} names {', '.join(unknown)}: only {', '.join(OVERRIDABLE)} may be skipped "
            "(never the secret key, nor broad or unreadable ranges). Fix or unset it."
        )
    return named


def enforce(config: Config) -> list[str]:
    """Called by the settings: in secure mode, refuse to start on any problem not skipped by the override, and
    log every skip as a warning. Returns the skipped checks (settings.INSECURE_OVERRIDES)."""
    skipped = overrides(config)
    if not config.web.secure:
        return skipped
    found = problems(
        secret_key=config.web.secret_key,
        audit_key=config.audit.key,
        trusted_proxies=config.access.trusted_proxies,
        vendor_networks=config.access.vendor_networks,
        api_key_pepper=os.environ.get(API_KEY_PEPPER_VARIABLE, ""),
        virus_scanners=config.scanning.scanners,
        embedded_database=config.database.embedded,
    )
    refused = [problem for problem in found if not (problem.overridable and problem.check in skipped)]
    if refused:
        raise ImproperlyConfigured(
            "MADOGUCHI_SECURE=true refuses to start:\n"
            + "\n".join(f"- {problem.message}" for problem in refused)
        )
    present = {problem.check for problem in found}
    for name in skipped:
        if name in present:
            # Logging is not configured yet while the settings load: Python's last-resort handler prints this
            # to stderr, in every process (web, worker, beat, manage.py), at every start.
            logger.warning(
                "%s=%s: secure mode starts although this check fails (see madoguchi/safety.py).",
                OVERRIDE_VARIABLE,
                name,
            )
        else:
            logger.warning("%s=%s is set but not needed: remove it.", OVERRIDE_VARIABLE, name)
    return skipped


@register(Tags.security, deploy=True)
def check_secure_settings(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """`manage.py check --deploy`: the problems `enforce()` refuses, as errors; the ones skipped, as warnings."""
    from django.conf import settings

    skipped = set(getattr(settings, "INSECURE_OVERRIDES", ()))
    messages: list[CheckMessage] = []
    for problem in problems(
        secret_key=str(settings.SECRET_KEY),
        audit_key=settings.CONFIG.audit.key,
        trusted_proxies=list(settings.TRUSTED_PROXIES),
        vendor_networks=list(settings.VENDOR_ALLOWED_NETWORKS),
        api_key_pepper=os.environ.get(API_KEY_PEPPER_VARIABLE, ""),
        virus_scanners=list(getattr(settings, "VIRUS_SCANNERS", [])),
        embedded_database=bool(getattr(settings, "EMBEDDED_DATABASE", False)),
    ):
        if problem.overridable and problem.check in skipped:
            messages.append(
                CheckWarning(
                    f"Skipped by {OVERRIDE_VARIABLE}={problem.check}: {problem.message}", id=problem.check_id
                )
            )
        else:
            messages.append(Error(problem.message, id=problem.check_id))
    return messages
