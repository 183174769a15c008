"""An operator invites a new city's first supervisor: the account has no password until the mailed link sets one."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django_tenants.utils import schema_context

from apps.security.audit_models import AuditEvent
from apps.security.models import Role, User
from tenants.models import Municipality

NEW_PASSWORD = "kitamoto-Strong-pass-2026"


def test_the_invited_supervisor_sets_a_password_through_the_mailed_link(
    city: Municipality, other_city: Municipality
) -> None:
    out = StringIO()
    call_command(
        "staff_invite", "ageo", "tanaka", "tanaka@city.ageo.lg.jp", "--name", "市民課 田中", stdout=out
    )
    assert "mail sent to tanaka@city.ageo.lg.jp" in out.getvalue()
    with schema_context(city.schema_name):
        user = User.objects.get(username="tanaka")
        assert not user.has_usable_password()
        assert list(user.groups.values_list("name", flat=True)) == [Role.SUPERVISOR.value]
        assert AuditEvent.objects.filter(action="staff.invited", target=f"User:{user.pk}").exists()
    with schema_context(other_city.schema_name):
        assert not User.objects.filter(username="tanaka").exists()  # the other city knows nothing of it

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["tanaka@city.ageo.lg.jp"]
    link = re.search(r"https?://ageo\.localhost(/accounts/password/reset/key/\S+)", message.body)
    assert link, message.body  # on the city's own host

    client = Client(HTTP_HOST="ageo.localhost")
    page = client.get(link.group(1), follow=True)
    assert page.status_code == 200
    form_path = page.redirect_chain[-1][0] if page.redirect_chain else link.group(1)
    done = client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    with schema_context(city.schema_name):
        assert User.objects.get(username="tanaka").check_password(NEW_PASSWORD)


def test_an_existing_name_or_address_is_refused_and_nothing_is_sent(city: Municipality) -> None:
    call_command("staff_invite", "ageo", "sato", "sato@city.ageo.lg.jp", "--role", "staff", stdout=StringIO())
    mail.outbox.clear()
    with pytest.raises(CommandError, match="このユーザー名はすでに使われています"):
        call_command("staff_invite", "ageo", "sato", "other@city.ageo.lg.jp")
    with pytest.raises(CommandError, match="このメールアドレスはすでに登録されています"):
        call_command("staff_invite", "ageo", "sato2", "SATO@city.ageo.lg.jp")
    with pytest.raises(CommandError, match="no city 'kasukabe'"):
        call_command("staff_invite", "kasukabe", "a", "a@example.jp")
    assert mail.outbox == []
