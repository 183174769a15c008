"""The maintenance mails: a proposal to each city's supervisors, a decision to the proposer and the vendor's alert
addresses. Japanese first (the English follows in the same mail); sent after the write is committed."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from apps.security.models import Role, User
from console.maintenance.models import MaintenanceApproval, MaintenanceProposal, Module

logger = logging.getLogger(__name__)


def _when(proposal: MaintenanceProposal) -> str:
    start = timezone.localtime(proposal.window_start)
    end = timezone.localtime(proposal.window_end)
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"


def _modules(proposal: MaintenanceProposal) -> str:
    return "、".join(str(Module(m).label) for m in proposal.modules)


def _text(language: str, build: Callable[[], str]) -> str:
    with translation.override(language):
        return str(build())


def city_supervisor_emails(schema_name: str) -> list[str]:
    """The active supervisors' addresses in the city's own schema."""
    with schema_context(schema_name):
        return sorted(
            set(
                User.objects.filter(groups__name=Role.SUPERVISOR, is_active=True)
                .exclude(email="")
                .values_list("email", flat=True)
            )
        )


def send_proposed(proposal_id: int) -> None:
    with schema_context("public"):
        proposal = MaintenanceProposal.objects.get(pk=proposal_id)
        approvals = list(proposal.approvals.select_related("municipality"))

    def body() -> str:
        return _(
            "運営事業者からメンテナンスの承認依頼が届きました。\n\n件名: %(title)s\n日時: %(when)s\n対象: %(modules)s\n\n"
            "%(what)s\n\n職員ページの「メンテナンスの承認」から、開始前に承認または却下してください。"
            "開始までに承認されないメンテナンスは実施されません。"
        ) % {
            "title": proposal.title_ja,
            "when": _when(proposal),
            "modules": _modules(proposal),
            "what": _plain(proposal.body_ja),
        }

    subject = _text("ja", lambda: _("メンテナンスの承認依頼: %(title)s") % {"title": proposal.title_ja})
    text = _text("ja", body) + "\n\n----\n\n" + _text("en", body)
    for approval in approvals:
        recipients = city_supervisor_emails(approval.municipality.schema_name)
        if not recipients:
            logger.warning(
                "maintenance %s: city %s has no supervisor to mail", proposal.pk, approval.municipality.slug
            )
            continue
        try:
            send_mail(subject, text, None, recipients)
        except Exception:  # one city's refused mail must not keep the others' from going
            logger.exception("maintenance %s: the mail to %s failed", proposal.pk, approval.municipality.slug)


def send_decided(approval_id: int) -> None:
    with schema_context("public"):
        approval = MaintenanceApproval.objects.select_related("proposal__proposed_by", "municipality").get(
            pk=approval_id
        )
    proposal = approval.proposal
    proposer = proposal.proposed_by.email if proposal.proposed_by and proposal.proposed_by.email else None
    recipients = sorted({*([proposer] if proposer else []), *getattr(settings, "VENDOR_ALERT_EMAILS", [])})
    if not recipients:
        logger.warning(
            "maintenance %s: no one to mail the decision of %s", proposal.pk, approval.municipality.slug
        )
        return
    approved = approval.status == MaintenanceApproval.Status.APPROVED

    def subject() -> str:
        values = {"city": approval.municipality.name_ja, "title": proposal.title_ja}
        if approved:
            return _("メンテナンス承認: %(city)s %(title)s") % values
        return _("メンテナンス却下: %(city)s %(title)s") % values

    def body() -> str:
        return _(
            "%(city)s の管理者 %(who)s が%(decision)sしました。\n日時: %(when)s\nコメント: %(comment)s"
        ) % {
            "city": approval.municipality.name_ja,
            "who": approval.decided_by_name,
            "decision": _("承認") if approved else _("却下"),
            "when": _when(proposal),
            "comment": approval.comment or "-",
        }

    send_mail(_text("ja", subject), _text("ja", body) + "\n\n----\n\n" + _text("en", body), None, recipients)


def _plain(html: str) -> str:
    from django.utils.html import strip_tags

    return strip_tags(html).strip()
