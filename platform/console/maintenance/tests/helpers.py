"""Proposals and decisions for the maintenance tests, as the console and a city's supervisor make them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from apps.security.models import User
from console.maintenance.models import MaintenanceApproval, MaintenanceProposal
from console.maintenance.services import ProposalInput, maintenance_decide, maintenance_propose
from tenants.models import Municipality
from tests.factories import UserFactory, supervisor_user


def vendor_actor(username: str = "vendor-op") -> Actor:
    with schema_context("public"):
        user = UserFactory.create(username=username, is_staff=True)
        return Actor.of_user(user)


def propose(
    cities: Sequence[Municipality],
    *,
    start: datetime | None = None,
    hours: int = 2,
    modules: Sequence[str] = ("booking",),
    title: str = "システム更新",
    body: str = "<p>サーバーの更新のため停止します。</p>",
    actor: Actor | None = None,
) -> MaintenanceProposal:
    begin = start or timezone.now() + timedelta(days=1)
    with schema_context("public"):
        return maintenance_propose(
            actor or vendor_actor(),
            data=ProposalInput(
                cities=list(cities),
                modules=list(modules),
                window_start=begin,
                window_end=begin + timedelta(hours=hours),
                title_ja=title,
                title_en="System update",
                body_ja=body,
                body_en="<p>Down for a server update.</p>",
            ),
        )


def supervisor(city: Municipality, username: str = "") -> User:
    with schema_context(city.schema_name):
        return supervisor_user(username=username or f"{city.slug}-sup")


def decide(
    city: Municipality,
    proposal: MaintenanceProposal,
    *,
    approve: bool = True,
    comment: str = "",
    user: User | None = None,
) -> MaintenanceApproval:
    with schema_context("public"):
        approval = MaintenanceApproval.objects.get(proposal=proposal, municipality=city)
    with schema_context(city.schema_name):
        actor = Actor.of_user(user or supervisor(city))
        return maintenance_decide(
            actor, municipality=city, approval_id=approval.pk, approve=approve, comment=comment
        )


def move_window(proposal: MaintenanceProposal, start: datetime, hours: int = 2, notice_days: int = 7) -> None:
    """Put an (approved) window elsewhere in time, as if the clock had moved on since the approval."""
    with schema_context("public"):
        MaintenanceProposal.objects.filter(pk=proposal.pk).update(
            window_start=start,
            window_end=start + timedelta(hours=hours),
            starts_at=start - timedelta(days=notice_days),
            ends_at=start + timedelta(hours=hours),
        )
        MaintenanceApproval.objects.filter(proposal=proposal).exclude(decided_at=None).update(
            decided_at=start - timedelta(minutes=1)
        )
