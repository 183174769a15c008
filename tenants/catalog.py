"""The catalog tables django-tenants' clone function reads (plain data: the benchmarks import it before Django is
set up)."""

from __future__ import annotations

# The catalog tables django-tenants' clone function reads. With stale statistics after a burst of new cities its
# queries pick bad plans and a clone took 1-2 s instead of 0.2 s (bench/report.md); fresh statistics fix it.
CLONE_CATALOG = (
    "pg_class",
    "pg_attribute",
    "pg_attrdef",
    "pg_constraint",
    "pg_depend",
    "pg_index",
    "pg_inherits",
    "pg_namespace",
    "pg_sequence",
    "pg_type",
    "pg_description",
)
