from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from tenants.models import Domain, Municipality


def municipality_list(*, include_public: bool = False) -> QuerySet[Municipality]:
    qs = Municipality.objects.all()
    return qs if include_public else qs.exclude(schema_name="public")


def municipality_directory() -> QuerySet[Municipality]:
    """Active cities with their primary host (`primary_domain`), in one query however many there are."""
    primary = (
        Domain.objects.filter(tenant=OuterRef("pk")).order_by("-is_primary", "domain").values("domain")[:1]
    )
    return (
        municipality_list()
        .filter(status=Municipality.Status.ACTIVE)
        .annotate(primary_domain=Subquery(primary))
        .order_by("lg_code")
    )


def municipality_get_by_slug(*, slug: str) -> Municipality:
    return Municipality.objects.get(slug=slug)


def domain_list(*, municipality: Municipality) -> QuerySet[Domain]:
    return Domain.objects.filter(tenant=municipality).order_by("-is_primary", "domain")
