"""The warm pool's bookkeeping (public schema): one row per spare schema, a clone of the template made in advance.

A spare is not a city: it has no Municipality or Domain row, so nothing routes to it, lists it, migrates it, fans
out to it or dumps it. tenants/pool.py takes and refills spares; docs/tenancy.md describes the pool.
"""

from __future__ import annotations

from django.db import models


class SpareSchema(models.Model):
    schema_name = models.CharField(max_length=63, unique=True)
    # tenants.pool.schema_fingerprint of the spare right after its clone: its migration records and privileges.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.schema_name
