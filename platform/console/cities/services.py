"""The console's writes on cities: create (schema, first network, first supervisor invited), status, hosts.

Each is refused below the operator role and recorded in the vendor's (public) audit log. What is done inside the
city (its first network, its supervisor's account) is done as the system named after the vendor's user, and recorded
in the city's own log too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.invitations import invitation_mail_send
from apps.security.models import AllowedNetwork, Role
from apps.security.services import network_add, staff_invite
from console.access import VendorRole, ensure_vendor_role
from tenants.db import use_public_schema
from tenants.models import Domain, Municipality
from tenants.services import (
    MunicipalityInput,
    municipality_create,
    municipality_delete,
    municipality_set_status,
)

# A host name: labels of letters, digits and hyphens, dot-separated, at least two labels.
_HOST = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
)


@dataclass(frozen=True)
class CityCreateInput:
    data: MunicipalityInput
    host: str
    network_cidr: str
    network_label: str
    supervisor_username: str
    supervisor_email: str
    supervisor_name: str = ""


def _in_city(actor: Actor) -> Actor:
    """Who acts inside a city for the vendor's user: the system, named after that user (the city's log says so)."""
    return Actor.system(f"console:{actor.username}"[:150])


def host_clean(host: str) -> str:
    value = host.strip().lower().rstrip(".")
    if not _HOST.match(value):
        raise ValidationError(_("ホスト名として正しくありません（例: yoyaku.city.ageo.lg.jp）。"))
    return value


def _check_create_input(data: CityCreateInput) -> str:
    """Everything that can be checked before the schema is made; the host, cleaned."""
    errors: dict[str, list[str]] = {}
    try:
        host = host_clean(data.host)
        if Domain.objects.filter(domain=host).exists():
            errors["host"] = [_("ホスト %(host)s は既に使われています。") % {"host": host}]
    except ValidationError as exc:
        host = ""
        errors["host"] = exc.messages
    try:
        AllowedNetwork(cidr=data.network_cidr, label=data.network_label.strip()).full_clean(
            validate_unique=False
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors["network_cidr" if field == "cidr" else "network_label"] = messages
    try:
        UnicodeUsernameValidator()(data.supervisor_username)
    except ValidationError as exc:
        errors["supervisor_username"] = exc.messages
    try:
        validate_email(data.supervisor_email)
    except ValidationError:
        errors["supervisor_email"] = [_("メールアドレスの形式が正しくありません。")]
    try:
        Municipality(schema_name=data.data.slug, **vars(data.data)).full_clean()
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors["slug" if field == "schema_name" else field] = messages
    if errors:
        raise ValidationError(errors)
    return host


def city_create(actor: Actor, data: CityCreateInput) -> Municipality:
    """A new city with its host, its first allowed network and its first supervisor, who is mailed the link to set
    a password. Raises ValidationError (by field) before anything is made; a failure after the schema was made
    removes the city again."""
    ensure_vendor_role(actor, VendorRole.OPERATOR)
    host = _check_create_input(data)
    municipality = municipality_create(data=data.data, domains=[host])
    try:
        with schema_context(municipality.schema_name):
            network_add(cidr=data.network_cidr, label=data.network_label, actor=_in_city(actor))
            supervisor = staff_invite(
                username=data.supervisor_username,
                email=data.supervisor_email,
                role=Role.SUPERVISOR,
                display_name=data.supervisor_name,
                actor=_in_city(actor),
            )
        invitation_mail_send(city=municipality, user=supervisor)
    except Exception:
        use_public_schema()
        municipality_set_status(municipality=municipality, status=Municipality.Status.SUSPENDED)
        municipality_delete(municipality=municipality)
        raise
    use_public_schema()
    audit_record(
        action="city.created",
        actor=actor,
        target=f"municipality:{municipality.slug}",
        summary=_("%(name)s (%(slug)s) を登録しました。管理者 %(user)s を招待しました。")
        % {"name": municipality.name_ja, "slug": municipality.slug, "user": data.supervisor_username},
        after={
            "slug": municipality.slug,
            "lg_code": municipality.lg_code,
            "host": host,
            "network": data.network_cidr,
            "supervisor": data.supervisor_username,
        },
    )
    return municipality


def city_set_status(actor: Actor, *, municipality: Municipality, status: str, reason: str) -> Municipality:
    """Suspend, resume or mark offboarding; refused when the city is already in that status."""
    ensure_vendor_role(actor, VendorRole.OPERATOR)
    if status not in Municipality.Status.values:
        raise ValidationError({"status": _("不正な状態です。")})
    if municipality.status == status:
        raise ValidationError({"status": _("既にその状態です。")})
    before = municipality.status
    with transaction.atomic():
        municipality_set_status(municipality=municipality, status=status)
        audit_record(
            action="city.status_changed",
            actor=actor,
            target=f"municipality:{municipality.slug}",
            summary=_("%(name)s: %(before)s → %(after)s（理由: %(reason)s）")
            % {
                "name": municipality.name_ja,
                "before": Municipality.Status(before).label,
                "after": Municipality.Status(status).label,
                "reason": reason,
            },
            before={"status": before},
            after={"status": status, "reason": reason},
        )
    return municipality


def domain_add(actor: Actor, *, municipality: Municipality, host: str, kind: str) -> Domain:
    ensure_vendor_role(actor, VendorRole.OPERATOR)
    value = host_clean(host)
    if kind not in Domain.Kind.values:
        raise ValidationError({"kind": _("用途を選んでください。")})
    with transaction.atomic():
        if Domain.objects.select_for_update().filter(domain=value).exists():
            raise ValidationError({"host": _("ホスト %(host)s は既に使われています。") % {"host": value}})
        domain = Domain.objects.create(domain=value, tenant=municipality, kind=kind, is_primary=False)
        audit_record(
            action="city.domain_added",
            actor=actor,
            target=f"municipality:{municipality.slug}",
            summary=f"{municipality.name_ja}: {value} ({Domain.Kind(kind).label})",
            after={"host": value, "kind": kind},
        )
    return domain


def domain_remove(actor: Actor, *, municipality: Municipality, domain_id: int) -> None:
    """Remove one of the city's hosts: never its last one nor its primary one (make another primary first)."""
    ensure_vendor_role(actor, VendorRole.OPERATOR)
    with transaction.atomic():
        domains = list(Domain.objects.select_for_update().filter(tenant=municipality))
        domain = next((d for d in domains if d.pk == domain_id), None)
        if domain is None:
            raise ValidationError(_("このホストはこの自治体のものではありません。"))
        if len(domains) == 1 or domain.is_primary:
            raise ValidationError(_("主なホストと最後のホストは削除できません。"))
        domain.delete()
        audit_record(
            action="city.domain_removed",
            actor=actor,
            target=f"municipality:{municipality.slug}",
            summary=f"{municipality.name_ja}: {domain.domain}",
            before={"host": domain.domain, "kind": domain.kind},
        )
