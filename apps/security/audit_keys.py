"""The audit chain's keys: one master secret outside the database, one key per schema derived from it.

A city's key is HMAC-SHA256(master, "madoguchi-audit:v2:" + schema). Knowing one city's key tells nothing about the
master or any other city's key, so a city's key can be handed over with its log at contract end (`manage.py
audit_city_key`) and the city can check its chain on its own. docs/audit-log.md describes the scheme.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

# The purpose label of the derivation; "v2" is the chain's hash version 2 (version 1 was unkeyed sha256).
CITY_KEY_LABEL = "madoguchi-audit:v2:"
# Separates the head's MAC from the rows' hashes, which are computed with the same key.
HEAD_LABEL = "madoguchi-audit-head:v2:"


def master_key() -> bytes:
    """settings.AUDIT_KEY (MADOGUCHI_AUDIT_KEY; in development a key derived from SECRET_KEY)."""
    return str(settings.AUDIT_KEY).encode("utf-8")


def city_key(schema: str, *, master: bytes | None = None) -> bytes:
    """The key of one schema's chain (public has one too, for the vendor's own log)."""
    message = (CITY_KEY_LABEL + schema).encode("utf-8")
    return hmac.new(master if master is not None else master_key(), message, hashlib.sha256).digest()


def keyed_hash(key: bytes, prev_hash: str, canonical: str) -> str:
    """A version-2 row's hash: HMAC-SHA256(city key, prev_hash + canonical JSON), hex."""
    return hmac.new(key, (prev_hash + canonical).encode("utf-8"), hashlib.sha256).hexdigest()


def head_mac(key: bytes, *, keyed_from: int, sequence: int, hash: str) -> str:
    """The recorded head's MAC: only the key's holder can move the head (e.g. back, after deleting rows)."""
    message = f"{HEAD_LABEL}{keyed_from}:{sequence}:{hash}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
