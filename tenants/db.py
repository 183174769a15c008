"""Typed access to django-tenants' additions on the database connection."""

from __future__ import annotations

from django.db import connection


def use_public_schema() -> None:
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def current_schema() -> str:
    return str(getattr(connection, "schema_name", "public"))
