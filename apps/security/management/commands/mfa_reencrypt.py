"""manage.py mfa_reencrypt: re-encrypt every second factor under the current DJANGO_SECRET_KEY.

The last step of rotating the secret key (docs/operations.md, "Rotate secrets"): with the old key still in
DJANGO_SECRET_KEY_FALLBACKS, every TOTP secret and recovery-code seed in the public schema and in every city's
(suspended ones too) is decrypted and encrypted again under the current key. Then the old key can leave the
fallbacks. Safe to run again: a secret already under the current key is re-encrypted to the same effect.
"""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from django.core.management.base import BaseCommand
from django.db import transaction
from django_tenants.utils import get_tenant_model, schema_context

from apps.security.mfa import authenticators_encrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt the second factors of every schema under the current secret key (after a key rotation)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        schemas = list(
            get_tenant_model().objects.order_by("schema_name").values_list("schema_name", flat=True)
        )
        total = 0
        for schema in schemas:
            with schema_context(schema), transaction.atomic():
                changed = authenticators_encrypt(Authenticator.objects.select_for_update())
            total += changed
            self.stdout.write(f"{schema}: {changed} re-encrypted")
        self.stdout.write(
            self.style.SUCCESS(f"{total} second factor(s) in {len(schemas)} schema(s) re-encrypted")
        )
