"""Proposing, approving per city, rejecting, cancelling; what applies to which city; mails both ways."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from apps.security.audit_models import AuditEvent
from console.maintenance.models import MaintenanceApproval
from console.maintenance.selectors import approvals_for_city, approved_windows, window_in_progress
from console.maintenance.services import maintenance_cancel, maintenance_decide
from console.maintenance.tests.helpers import decide, move_window, propose, supervisor, vendor_actor
from tenants.models import Municipality
from tests.factories import staff_user


def test_a_window_applies_only_to_the_cities_that_approved_it(
    city: Municipality, other_city: Municipality
) -> None:
    proposal = propose([city, other_city])
    decide(city, proposal)
    start = proposal.window_start
    assert [w.id for w in approved_windows(city.pk, "booking", start, start + timedelta(hours=1))] == [
        proposal.pk
    ]
    assert (
        approved_windows(other_city.pk, "booking", start, start + timedelta(hours=1)) == []
    )  # still pending
    assert approved_windows(city.pk, "issuance", start, start + timedelta(hours=1)) == []  # not that module
    move_window(proposal, timezone.now() - timedelta(minutes=5))
    assert window_in_progress(city.pk, "booking", timezone.now()) is not None
    assert window_in_progress(other_city.pk, "booking", timezone.now()) is None


def test_a_rejected_window_does_not_apply(city: Municipality) -> None:
    proposal = propose([city])
    approval = decide(city, proposal, approve=False, comment="窓口の繁忙日です")
    assert approval.status == MaintenanceApproval.Status.REJECTED
    assert approval.comment == "窓口の繁忙日です"
    move_window(proposal, timezone.now() - timedelta(minutes=5))
    assert window_in_progress(city.pk, "booking", timezone.now()) is None


def test_not_approved_by_its_start_it_does_not_apply(city: Municipality) -> None:
    proposal = propose([city])
    decide(city, proposal)
    with schema_context("public"):  # approved only after the window began (written behind the service's back)
        MaintenanceApproval.objects.filter(proposal=proposal).update(
            decided_at=proposal.window_start + timedelta(minutes=1)
        )
    assert approved_windows(city.pk, "booking", proposal.window_start, proposal.window_end) == []
    late = propose([city], start=timezone.now() + timedelta(days=1))
    move_window(late, timezone.now() - timedelta(minutes=1))
    with pytest.raises(ValidationError):  # too late to answer: the service refuses
        decide(city, late)


def test_a_cancelled_window_applies_nowhere(city: Municipality) -> None:
    proposal = propose([city])
    decide(city, proposal)
    with schema_context("public"):
        maintenance_cancel(vendor_actor("vendor-2"), proposal_id=proposal.pk)
    assert approved_windows(city.pk, "booking", proposal.window_start, proposal.window_end) == []


def test_the_proposal_needs_a_city_a_module_and_a_future_window(city: Municipality) -> None:
    with pytest.raises(ValidationError):
        propose([])
    with pytest.raises(ValidationError):
        propose([city], modules=[])
    with pytest.raises(ValidationError):
        propose([city], start=timezone.now() - timedelta(hours=1))
    with pytest.raises(ValidationError):
        propose([city], body="番号 123456789018 の件")
    with schema_context("public"):
        assert not MaintenanceApproval.objects.exists()


def test_only_a_supervisor_decides(city: Municipality) -> None:
    proposal = propose([city])
    with schema_context(city.schema_name):
        clerk = staff_user(username="clerk")
    with pytest.raises(PermissionDenied):
        decide(city, proposal, user=clerk)


def test_okegawa_never_sees_nor_decides_ageos_windows(city: Municipality, other_city: Municipality) -> None:
    proposal = propose([city])
    decide(city, proposal)
    with schema_context("public"):
        ageo_row = MaintenanceApproval.objects.get(proposal=proposal, municipality=city)
    with schema_context(other_city.schema_name):
        actor = Actor.of_user(supervisor(other_city))
        assert approvals_for_city(actor, other_city.pk) == []
        with pytest.raises(MaintenanceApproval.DoesNotExist):
            maintenance_decide(actor, municipality=other_city, approval_id=ageo_row.pk, approve=False)
        with pytest.raises(PermissionDenied):  # not from okegawa's schema for ageo either
            maintenance_decide(actor, municipality=city, approval_id=ageo_row.pk, approve=False)
    with schema_context("public"):
        assert MaintenanceApproval.objects.get(pk=ageo_row.pk).status == MaintenanceApproval.Status.APPROVED
    assert window_in_progress(other_city.pk, "booking", proposal.window_start) is None


def test_each_side_audits_in_its_own_log(city: Municipality, other_city: Municipality) -> None:
    proposal = propose([city])
    decide(city, proposal)
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="maintenance.proposed").exists()
        assert not AuditEvent.objects.filter(action="maintenance.approved").exists()
    with schema_context(city.schema_name):
        assert AuditEvent.objects.filter(
            action="maintenance.approved", target=f"maintenance:{proposal.pk}"
        ).exists()
    with schema_context(other_city.schema_name):
        assert not AuditEvent.objects.filter(action__startswith="maintenance.").exists()


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mails' tasks run where they are sent, as a worker would run them."""
    from madoguchi.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


@override_settings(VENDOR_ALERT_EMAILS=["soc@vendor.example"])
def test_mails_both_ways(
    city: Municipality, other_city: Municipality, worker: None, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    ageo_sup = supervisor(city, "ageo-boss")
    okegawa_sup = supervisor(other_city, "okegawa-boss")
    with django_capture_on_commit_callbacks(execute=True):
        proposal = propose([city, other_city], actor=vendor_actor("vendor-mailer"))
    assert len(mail.outbox) == 2
    to = {tuple(m.to) for m in mail.outbox}
    assert to == {(ageo_sup.email,), (okegawa_sup.email,)}
    assert "承認依頼" in mail.outbox[0].subject
    assert "システム更新" in mail.outbox[0].body
    assert "System update" not in mail.outbox[0].subject
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decide(city, proposal, approve=False, comment="繁忙期", user=ageo_sup)
    assert len(mail.outbox) == 1
    assert set(mail.outbox[0].to) == {"vendor-mailer@example.jp", "soc@vendor.example"}
    assert "却下" in mail.outbox[0].subject
    assert "上尾市" in mail.outbox[0].subject
    assert "繁忙期" in mail.outbox[0].body


def test_with_the_broker_away_the_request_sends_the_proposal_mails(
    city: Municipality, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from base.tasks import BROKER
    from console.maintenance import tasks

    def refuse(*args: object) -> None:
        raise ConnectionRefusedError("the broker is away")

    sup = supervisor(city, "ageo-boss-2")
    monkeypatch.setattr(tasks.send_proposed, "delay", refuse)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            propose([city], actor=vendor_actor("vendor-mailer-2"))
    finally:
        BROKER.reset()
    assert [m.to for m in mail.outbox] == [[sup.email]]
    assert "承認依頼" in mail.outbox[0].subject


def test_without_a_worker_the_proposal_mails_wait_for_it(
    city: Municipality, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from console.maintenance import tasks

    queued: list[tuple[object, ...]] = []
    monkeypatch.setattr(tasks.send_proposed, "delay", lambda *args: queued.append(args))
    supervisor(city, "ageo-boss-3")
    with django_capture_on_commit_callbacks(execute=True):
        proposal = propose([city], actor=vendor_actor("vendor-mailer-3"))
    assert queued == [(proposal.pk,)]
    assert mail.outbox == []  # the operator's request sent nothing itself
