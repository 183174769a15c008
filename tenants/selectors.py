from __future__ import annotations

from django.db.models import QuerySet

from tenants.models import Domain, Municipality


def municipality_list(*, include_public: bool = False) -> QuerySet[Municipality]:
    qs = Municipality.objects.all()
    return qs if include_public else qs.exclude(schema_name="public")


def municipality_get_by_slug(*, slug: str) -> Municipality:
    return Municipality.objects.get(slug=slug)


def domain_list(*, municipality: Municipality) -> QuerySet[Domain]:
    return Domain.objects.filter(tenant=municipality).order_by("-is_primary", "domain")
