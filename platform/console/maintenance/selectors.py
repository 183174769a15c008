"""Reads of the maintenance windows: what applies to a city (plain, cacheable values) and the lists of both sides.

`window_in_progress` and `approved_windows` are the fixed interface other features read (the availability report);
the city's pages read the same rows through a per-city cached copy (console.maintenance.cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Prefetch, Q, QuerySet
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from base.notices import BilingualText, window_open
from console.maintenance.models import MaintenanceApproval, MaintenanceProposal


@dataclass
class ApprovedWindow(BilingualText):
    """A window approved by one city in time (plain values: safe to cache); `title_for`/`body_for` as on a notice.
    Not frozen only so that it matches base.notices' text protocol; nothing changes it."""

    id: int
    start: datetime
    end: datetime
    modules: tuple[str, ...]
    title_ja: str
    title_en: str
    body_ja: str
    body_en: str
    shown_from: datetime
    shown_until: datetime

    def is_shown_at(self, now: datetime) -> bool:
        return window_open(self.shown_from, self.shown_until, now)

    def in_progress_at(self, now: datetime, module: str | None = None) -> bool:
        return window_open(self.start, self.end, now) and (module is None or module in self.modules)


def _approved(municipality_id: int) -> QuerySet[MaintenanceApproval]:
    """This city's approvals that apply: approved before the window began, of a window not cancelled."""
    return MaintenanceApproval.objects.filter(
        municipality_id=municipality_id,
        status=MaintenanceApproval.Status.APPROVED,
        decided_at__lte=F("proposal__window_start"),
        proposal__cancelled_at__isnull=True,
    ).select_related("proposal")


def _windows(rows: QuerySet[MaintenanceApproval]) -> list[ApprovedWindow]:
    with schema_context("public"):
        return [
            ApprovedWindow(
                id=p.pk,
                start=p.window_start,
                end=p.window_end,
                modules=tuple(p.modules),
                title_ja=p.title_ja,
                title_en=p.title_en,
                body_ja=p.body_ja,
                body_en=p.body_en,
                shown_from=p.starts_at,
                shown_until=p.ends_at or p.window_end,
            )
            for p in (row.proposal for row in rows.order_by("proposal__window_start", "proposal_id"))
        ]


def approved_windows(
    municipality_id: int, module: str, start: datetime, end: datetime
) -> list[ApprovedWindow]:
    """The windows of `module` approved by the city that overlap [start, end) (for the availability report)."""
    return _windows(
        _approved(municipality_id).filter(
            proposal__modules__contains=[module],
            proposal__window_start__lt=end,
            proposal__window_end__gt=start,
        )
    )


def in_progress(windows: list[ApprovedWindow], module: str, now: datetime) -> ApprovedWindow | None:
    """The first of `windows` of `module` in progress at `now` (no query: for the cached copy too)."""
    return next((w for w in windows if w.in_progress_at(now, module)), None)


def window_in_progress(municipality_id: int, module: str, now: datetime) -> ApprovedWindow | None:
    """An approved window of `module` in progress at `now` for the city, or None."""
    return in_progress(
        approved_windows(municipality_id, module, now, now + timedelta(microseconds=1)), module, now
    )


def windows_for_city_pages(municipality_id: int, now: datetime, ahead: timedelta) -> list[ApprovedWindow]:
    """The approved windows whose notice is shown at some time in [now, now + ahead) (the per-city cached copy:
    each request then picks what is shown or in progress at its own moment)."""
    return _windows(
        _approved(municipality_id).filter(
            Q(proposal__starts_at__lt=now + ahead), proposal__window_end__gt=now
        )
    )


def proposals_for_console(actor: Actor) -> QuerySet[MaintenanceProposal]:
    """Every window, newest first, with each city's answer (the console's list)."""
    approvals = MaintenanceApproval.objects.select_related("municipality").order_by("municipality__slug")
    return (
        MaintenanceProposal.objects.select_related("proposed_by")
        .prefetch_related(Prefetch("approvals", queryset=approvals))
        .order_by("-window_start", "-pk")
    )


def approvals_for_city(actor: Actor, municipality_id: int) -> list[MaintenanceApproval]:
    """The city's answers (pending first, then decided, newest window first): only this city's rows."""
    with schema_context("public"):
        rows = (
            MaintenanceApproval.objects.filter(municipality_id=municipality_id)
            .select_related("proposal")
            .order_by("-proposal__window_start", "-pk")
        )
        return sorted(rows, key=lambda a: a.status != MaintenanceApproval.Status.PENDING)


def approval_for_city(actor: Actor, municipality_id: int, approval_id: int) -> MaintenanceApproval | None:
    """One of the city's answers by id; None when it is another city's (never found, never told)."""
    with schema_context("public"):
        return (
            MaintenanceApproval.objects.filter(municipality_id=municipality_id, pk=approval_id)
            .select_related("proposal")
            .first()
        )
