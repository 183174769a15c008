"""The second factor's secrets, encrypted at rest. What a session has proven is `apps.security.mfa_session`.

Secrets: allauth stores a TOTP secret and the seed of the recovery codes in `Authenticator.data`, through the MFA
adapter's `encrypt()`/`decrypt()` hooks. `MFAAdapter` encrypts them with Fernet (AES-128-CBC + HMAC-SHA256) under
a key derived from SECRET_KEY with HKDF and a purpose label, so a copy of the database (a backup, a dump handed to
support) does not hold the codes' seeds. Stored values start with `ENCRYPTED_PREFIX`; a value without it is a
clear-text secret written before encryption existed (migration 0006 encrypts those in every schema). Decryption
also tries SECRET_KEY_FALLBACKS, so a rotated key keeps working until `authenticators_encrypt()` (run again by
a migration or the shell) has re-encrypted everything under the current key.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

logger = logging.getLogger(__name__)

ENCRYPTED_PREFIX = "fernet1:"
_KEY_PURPOSE = b"madoguchi mfa authenticator secrets v1"
# Where allauth keeps each authenticator type's secret in `Authenticator.data` (WebAuthn holds a public key only).
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    Authenticator.Type.TOTP.value: ("secret",),
    Authenticator.Type.RECOVERY_CODES.value: ("seed",),
}
# Recovery codes carried over from another system are stored as a list of encrypted codes.
SECRET_LISTS: dict[str, tuple[str, ...]] = {Authenticator.Type.RECOVERY_CODES.value: ("migrated_codes",)}
# Second factors that allauth asks for at login; recovery codes alone are only a way back in.
PRIMARY_TYPES = (Authenticator.Type.TOTP.value, Authenticator.Type.WEBAUTHN.value)


class UnreadableSecretError(Exception):
    """A stored secret that no configured key opens: SECRET_KEY changed without the old one in the fallbacks."""


# --- encryption at rest ----------------------------------------------------------------------------------------


def _derive(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_PURPOSE).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@lru_cache(maxsize=4)
def _fernet(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    # The first key encrypts; every key decrypts (MultiFernet), so a rotated SECRET_KEY stays readable.
    return MultiFernet([_derive(secret_key), *(_derive(key) for key in fallbacks)])


def _keys() -> MultiFernet:
    return _fernet(str(settings.SECRET_KEY), tuple(str(key) for key in settings.SECRET_KEY_FALLBACKS))


def is_encrypted(value: str) -> bool:
    return value.startswith(ENCRYPTED_PREFIX)


def secret_encrypt(text: str) -> str:
    return ENCRYPTED_PREFIX + _keys().encrypt(text.encode()).decode("ascii")


def secret_decrypt(value: str) -> str:
    if not is_encrypted(value):
        return value  # stored before encryption existed; migration 0006 encrypts it
    try:
        return _keys().decrypt(value[len(ENCRYPTED_PREFIX) :].encode("ascii")).decode()
    except InvalidToken as exc:
        # Never fall back to something guessable (an empty TOTP secret has a predictable code): refuse loudly.
        logger.error("an MFA secret cannot be decrypted: SECRET_KEY changed without SECRET_KEY_FALLBACKS")
        raise UnreadableSecretError("MFA secret encrypted under a key that is not configured") from exc


def secret_reencrypt(value: str) -> str:
    """The value under the current key: clear text encrypted, an old key's token rotated, a current one kept."""
    return secret_encrypt(secret_decrypt(value))


class MFAAdapter(DefaultMFAAdapter):
    """allauth's MFA adapter with the secrets encrypted at rest (settings: MFA_ADAPTER)."""

    def encrypt(self, text: str) -> str:
        return secret_encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return secret_decrypt(encrypted_text)


def authenticator_data_map(data: dict[str, Any], kind: str, convert: Callable[[str], str]) -> dict[str, Any]:
    """`data` of an authenticator of type `kind` with `convert` applied to each secret it holds."""
    changed = dict(data)
    for field in SECRET_FIELDS.get(kind, ()):
        if isinstance(changed.get(field), str):
            changed[field] = convert(changed[field])
    for field in SECRET_LISTS.get(kind, ()):
        if isinstance(changed.get(field), list):
            changed[field] = [convert(item) if isinstance(item, str) else item for item in changed[field]]
    return changed


def authenticators_convert(authenticators: Iterable[Any], convert: Callable[[str], str]) -> int:
    """Apply `convert` to the secrets of `authenticators` (model instances, historical ones in a migration) and
    save those that changed; returns how many were saved."""
    saved = 0
    for authenticator in authenticators:
        data = authenticator_data_map(authenticator.data, authenticator.type, convert)
        if data != authenticator.data:
            authenticator.data = data
            authenticator.save(update_fields=["data"])
            saved += 1
    return saved


def authenticators_encrypt(authenticators: Iterable[Any]) -> int:
    """Encrypt clear-text secrets, and re-encrypt those under a fallback key with the current one."""
    return authenticators_convert(authenticators, secret_reencrypt)
