"""Provisioning: creating a city (from the warm pool or a clone), keeping the template and the pool current,
suspending and resuming."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tenants.clone import CloneSchema
from django_tenants.signals import post_schema_sync
from django_tenants.utils import schema_context, schema_exists

from tenants.catalog import CLONE_CATALOG
from tenants.db import use_public_schema
from tenants.migration import schemas_with_pending_migrations
from tenants.models import Domain, Municipality
from tenants.pool import (
    pool_size,
    schema_fingerprint,
    spare_name,
    spare_take,
    spares_current,
    spares_discard,
    template_fingerprint,
)
from tenants.pool_models import SpareSchema
from tenants.routing import routes_changed

logger = logging.getLogger(__name__)

# Clones and template migrations are serialised: django-tenants re-creates its clone function on every clone.
_PROVISIONING_LOCK = 7_100_001


@dataclass(frozen=True)
class MunicipalityInput:
    slug: str
    lg_code: str
    name_ja: str
    name_en: str
    prefecture: str
    contact_email: str = ""
    contact_phone: str = ""


def public_tenant_ensure(*, domains: Sequence[str]) -> Municipality:
    """The vendor's own tenant (public schema) and its hosts. Idempotent."""
    public, _created = Municipality.objects.get_or_create(
        schema_name="public",
        defaults={
            "slug": "public",
            "lg_code": "000000",
            "name_ja": "窓口 運営",
            "name_en": "Madoguchi vendor",
            "prefecture": "-",
        },
    )
    _domains_ensure(public, domains)
    return public


def _domains_ensure(municipality: Municipality, domains: Sequence[str]) -> None:
    for index, host in enumerate(domains):
        Domain.objects.get_or_create(
            domain=host.lower(),
            defaults={"tenant": municipality, "is_primary": index == 0},
        )


def template_ensure() -> None:
    """Create or migrate the template schema that new cities are cloned from."""
    template = settings.TENANT_BASE_SCHEMA
    with transaction.atomic():
        _lock()
        if not schema_exists(template):
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE SCHEMA "{template}"')
        elif not schemas_with_pending_migrations([template]):
            return
    logger.info("migrating the template schema %s", template)
    call_command("migrate_schemas", schema_name=template, tenant=True, interactive=False, verbosity=0)
    use_public_schema()


def _lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PROVISIONING_LOCK])


def municipality_create(
    *, data: MunicipalityInput, domains: Sequence[str], verbosity: int = 0
) -> Municipality:
    """Create a city: its row, its schema (a spare from the pool, cloned or migrated), its hosts and each app's
    defaults.

    Raises ValidationError on bad or duplicate identity; nothing is left behind on failure.
    """
    municipality = Municipality(schema_name=data.slug, **vars(data))
    municipality.full_clean()
    for host in domains:
        if Domain.objects.filter(domain=host.lower()).exists():
            raise ValidationError({"domains": _("ホスト %(host)s は既に使われています。") % {"host": host}})
    clone = settings.TENANT_CREATION == "clone"
    use_public_schema()
    if clone and pool_size() and SpareSchema.objects.exists():
        current = template_fingerprint()  # None while the template lacks a migration: every spare is stale
        taken = False
        if current is not None:
            try:
                with transaction.atomic():
                    taken = spare_take(municipality.schema_name, fingerprint=current)
                    if taken:
                        _city_fill(municipality, domains)
                        # The pool's refill (a clone, slow) runs in the background, never in this request.
                        transaction.on_commit(_pool_refill_later)
            except IntegrityError as exc:  # the same slug taken by a creation at the same moment
                raise ValidationError({"slug": _DUPLICATE}) from exc
        if taken:
            catalog_analyze_if_stale()
            return municipality
        spares_discard(keep_fingerprint=current, keep=None)  # stale spares (after a deploy) go; then clone
    if clone:
        template_ensure()
    use_public_schema()
    with transaction.atomic():
        _lock()
        if clone:
            # The template's migration records come along with its tables, so no fake migrate is needed.
            _clone(municipality.schema_name)
        else:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE SCHEMA "{municipality.schema_name}"')
            call_command(
                "migrate_schemas",
                schema_name=municipality.schema_name,
                tenant=True,
                interactive=False,
                verbosity=verbosity,
            )
            use_public_schema()
        _city_fill(municipality, domains)
    catalog_analyze_if_stale()
    return municipality


_DUPLICATE = gettext_lazy("この自治体は既に登録されています。")


def _clone(schema_name: str) -> None:
    CloneSchema().clone_schema(settings.TENANT_BASE_SCHEMA, schema_name, "DATA")


def _city_fill(municipality: Municipality, domains: Sequence[str]) -> None:
    """The city's row and hosts, once its schema exists, then each app's defaults (post_schema_sync)."""
    try:
        with transaction.atomic():  # a savepoint: a duplicate slug raced in since full_clean is a refusal
            municipality.save()
    except IntegrityError as exc:
        raise ValidationError({"slug": _DUPLICATE}) from exc
    _domains_ensure(municipality, domains)
    with schema_context(municipality.schema_name):
        post_schema_sync.send(sender=Municipality, tenant=municipality.serializable_fields())


def _pool_refill_later() -> None:
    from tenants.tasks import pool_refill  # a task module imports its services, not the other way round

    pool_refill.delay()


def pool_refill(*, size: int | None = None) -> int:
    """Keep `size` (default settings.TENANT_POOL_SIZE) current spares: drop stale and surplus ones, clone the rest.

    Each clone holds the provisioning lock like a city's clone; creations from the pool never wait for it.
    Returns the number of spares cloned.
    """
    target = pool_size() if size is None else size
    if target:
        template_ensure()
    use_public_schema()
    current = template_fingerprint()
    spares_discard(keep_fingerprint=current, keep=target)
    made = 0
    while current is not None:
        with transaction.atomic():
            _lock()  # serialises refills too: the count below cannot overshoot
            if spares_current(current) >= target:
                break
            name = spare_name()
            _clone(name)
            fingerprint = schema_fingerprint(name)
            if fingerprint != current:  # a clone that differs from its template must never become a city
                raise RuntimeError(
                    f"the clone {name} does not match the template {settings.TENANT_BASE_SCHEMA}"
                )
            SpareSchema.objects.create(schema_name=name, fingerprint=fingerprint)
        made += 1
        catalog_analyze_if_stale()
    return made


STALE_CATALOG_ROWS = 5000  # about four cities' worth of pg_attribute rows (1,300 each)
# ... or this share of a catalog table, whichever is more (PostgreSQL's autovacuum_analyze_scale_factor): with a fixed
# 5,000 the catalog was analyzed after every fourth city at 500 cities and more, about 1 s of server CPU each time
# (make bench PART=scale), while statistics within 10 % of the table keep the clone's plans as good.
STALE_CATALOG_FRACTION = 0.1


def catalog_is_stale(changed: int, live: int) -> bool:
    """Whether a catalog table with `live` rows, `changed` of them since its last analyze, needs an ANALYZE."""
    return changed >= max(STALE_CATALOG_ROWS, STALE_CATALOG_FRACTION * live)


def catalog_analyze_if_stale() -> bool:
    """ANALYZE the clone's catalog tables when many rows changed since their last analyze (cheap to check)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_mod_since_analyze, n_live_tup FROM pg_stat_sys_tables "
            "WHERE schemaname = 'pg_catalog' AND relname = ANY(%s)",
            [list(CLONE_CATALOG)],
        )
        if not any(catalog_is_stale(int(changed), int(live)) for changed, live in cursor.fetchall()):
            return False
        try:
            with transaction.atomic():  # a savepoint: a refusal must not break a caller's transaction
                cursor.execute("ANALYZE " + ", ".join(f"pg_catalog.{name}" for name in CLONE_CATALOG))
        except DatabaseError as exc:  # a role that may not analyze the catalog: autovacuum will, later
            logger.warning("could not analyze the catalog after creating cities: %s", exc)
            return False
    return True


def municipality_set_status(*, municipality: Municipality, status: str) -> Municipality:
    if status not in Municipality.Status.values:
        raise ValidationError({"status": _("不正な状態です。")})
    with transaction.atomic():
        Municipality.objects.filter(pk=municipality.pk).update(status=status)
        routes_changed()  # a queryset update sends no signal: every process's host map must see it
    municipality.status = status
    return municipality


# Statuses from which a city may be deleted (city_offboard): stopped, never an active one.
OFFBOARDABLE = (Municipality.Status.SUSPENDED, Municipality.Status.OFFBOARDING)


def municipality_delete(*, municipality: Municipality) -> None:
    """Remove a suspended or offboarding city for good: its schema (every row of it), its hosts and its row, in one transaction.

    Only the last step of offboarding (`manage.py city_offboard`, which first takes and checks the final dump):
    an active city is refused, so a city still serving residents is never deleted by mistake."""
    if municipality.is_public:
        raise ValidationError({"slug": _("運営者のテナントは削除できません。")})
    if municipality.status not in OFFBOARDABLE:
        raise ValidationError({"status": _("削除できるのは停止中または契約終了手続き中の自治体だけです。")})
    with transaction.atomic():
        use_public_schema()
        schema = municipality.schema_name
        Domain.objects.filter(tenant=municipality).delete()
        Municipality.objects.filter(pk=municipality.pk).delete()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        routes_changed()
