"""The maintenance mails as worker tasks: a proposal to many cities mails every city's supervisors, which is no work
for the operator's request. With the broker away (base.tasks.enqueue), the request sends them itself."""

from __future__ import annotations

from celery import shared_task

from base.tasks import enqueue
from console.maintenance import mails
from tenants.db import use_public_schema


@shared_task(name="console.maintenance.send_proposed")
def send_proposed(proposal_id: int) -> None:
    use_public_schema()
    mails.send_proposed(proposal_id)


@shared_task(name="console.maintenance.send_decided")
def send_decided(approval_id: int) -> None:
    use_public_schema()
    mails.send_decided(approval_id)


def send_proposed_later(proposal_id: int) -> None:
    """After the proposal's commit: to the worker, or sent here when the broker cannot take it."""
    enqueue(send_proposed, proposal_id, fallback=lambda: mails.send_proposed(proposal_id))


def send_decided_later(approval_id: int) -> None:
    enqueue(send_decided, approval_id, fallback=lambda: mails.send_decided(approval_id))
