"""Security headers and attack-sign detection (issue 4, items 6 and 7).

Star-imported at the end of settings/__init__.py, so it must not import from there (the package is only half
loaded then); what it needs is re-read from madoguchi.config.
"""

from __future__ import annotations

from typing import Any

from csp.constants import NONE, SELF

from madoguchi import config as _config

# Only these names reach the settings module (the star import would otherwise copy the imports too).
__all__ = [
    "ATTACK_SIGN_LOOKBACK_WINDOWS",
    "ATTACK_SIGN_THRESHOLDS",
    "ATTACK_SIGN_WINDOW_SECONDS",
    "BEAT_SCHEDULE_SECURITY",
    "CONTENT_SECURITY_POLICY",
    "PERMISSIONS_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "SECURE_HSTS_PRELOAD",
    "VENDOR_ALERT_EMAILS",
]

_CONFIG = _config.load()
_secure = _CONFIG.web.secure

# --- Content-Security-Policy (django-csp 4) ----------------------------------------------------------------------
# No inline script or style anywhere: the city colour comes from /theme.css, allauth's WebAuthn pages use script
# files plus JSON data blocks (type="application/json" is never executed, so script-src does not apply to it).
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

# --- Other response headers --------------------------------------------------------------------------------------
# Powerful features the pages never use are switched off, for this page and any frame; WebAuthn (MFA security
# keys) stays allowed for our own origin. Sent by madoguchi.headers.SecurityHeadersMiddleware.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    "accelerometer": [],
    "autoplay": [],
    "camera": [],
    "display-capture": [],
    "geolocation": [],
    "gyroscope": [],
    "hid": [],
    "magnetometer": [],
    "microphone": [],
    "midi": [],
    "payment": [],
    "publickey-credentials-create": ["self"],
    "publickey-credentials-get": ["self"],
    "screen-wake-lock": [],
    "serial": [],
    "usb": [],
    "xr-spatial-tracking": [],
}
# Django's default, set explicitly because a test relies on it: no other window keeps a handle on our pages.
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# HSTS itself (max-age, includeSubDomains, only with MADOGUCHI_SECURE) is set in settings/__init__.py. `preload`
# lets the vendor submit its registrable domain to the browsers' preload list; it does nothing for other hosts.
SECURE_HSTS_PRELOAD = _secure

# --- Attack signs (apps.security.signs) --------------------------------------------------------------------------
# Counts per client address (IPv6: per /64) and per window; an address at or above its kind's threshold within
# one window is reported to the vendor once. See docs/operations.md, "Attack signs".
ATTACK_SIGN_WINDOW_SECONDS = 300
ATTACK_SIGN_THRESHOLDS: dict[str, int] = {"login_failed": 20, "network_refused": 20, "http_4xx": 200}
# The periodic task also looks at a few earlier windows, so a beat or worker outage does not lose a sign.
ATTACK_SIGN_LOOKBACK_WINDOWS = 3
VENDOR_ALERT_EMAILS: list[str] = _CONFIG.access.vendor_alert_emails

# Merged into CELERY_BEAT_SCHEDULE by settings/__init__.py (this module cannot import it).
BEAT_SCHEDULE_SECURITY: dict[str, dict[str, Any]] = {
    "detect-attack-signs": {
        "task": "apps.security.signs_tasks.detect_attack_signs",
        "schedule": float(ATTACK_SIGN_WINDOW_SECONDS),
    },
    # Security counters whose window ended (lockouts, limits, signs) are deleted in every schema.
    "prune-security-counters": {
        "task": "apps.security.tasks.prune_counters_everywhere",
        "schedule": 900.0,
    },
}
