"""IPA 安全なウェブサイトの作り方 1-(viii) mail header injection.

Mail goes out through Django's mail API only, which refuses line breaks in headers, and the address a request
names is checked by an EmailField first (one address, no line breaks, no lists). The one mail a visitor can cause
today is the password reset; these tests smuggle a second recipient or a header into its address and assert
that the attacker receives nothing and no message carries an extra header.

Later work adds each mail a visitor can trigger (booking confirmations, email checks) as a case in MAIL_FORMS:
(host, path, the data to post, the field that takes the address).
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django_tenants.utils import schema_context

from apps.security.models import User
from tenants.models import Municipality
from tests.security.payloads import ATTACKER, MAIL_HEADER_INJECTION
from tests.security.targets import HOSTS, Host, client_for, make_staff, relax_for_attacks, schema_of

VICTIM = "victim@example.jp"
MAIL_FORMS: list[tuple[str, dict[str, str], str]] = [
    ("/accounts/password/reset/", {}, "email"),
]


@pytest.fixture(autouse=True)
def _attack_settings(settings):
    relax_for_attacks(settings)


@pytest.fixture
def victim(city: Municipality) -> dict[Host, User]:
    users = {}
    for host in HOSTS:
        user = make_staff(host)
        with schema_context(schema_of(host)):
            user.email = VICTIM
            user.save(update_fields=["email"])
        users[host] = user
    return users


def assert_clean(message: EmailMessage, what: str) -> None:
    recipients = [r.lower() for r in message.recipients()]
    assert ATTACKER not in " ".join(recipients), f"{what}: mailed to {recipients}"
    assert not message.cc, what
    assert not message.bcc, what
    assert not {"bcc", "cc"} & {name.lower() for name in message.extra_headers}, what
    raw = message.message().as_string()
    header_block = raw.split("\n\n", 1)[0]
    assert ATTACKER not in header_block, f"{what}: {header_block}"
    assert "\nBcc:" not in header_block, what


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("path", "data", "field"), MAIL_FORMS)
@pytest.mark.parametrize("payload", MAIL_HEADER_INJECTION)
def test_no_mail_reaches_the_attacker(
    victim: dict[Host, User], host: Host, path: str, data: dict[str, str], field: str, payload: str
) -> None:
    response = client_for(host).post(path, {**data, field: payload})
    assert response.status_code in (200, 302, 429), response.status_code
    for message in mail.outbox:
        assert_clean(message, payload)


@pytest.mark.parametrize("host", HOSTS)
def test_a_plain_reset_mails_the_victim_only(victim: dict[Host, User], host: Host) -> None:
    # The control: the same form does send mail, to exactly the address given.
    response = client_for(host).post("/accounts/password/reset/", {"email": VICTIM})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [VICTIM]
    assert_clean(mail.outbox[0], "control")


def test_the_check_sees_a_bcc() -> None:
    message = EmailMessage("s", "b", "from@example.jp", [VICTIM], bcc=[ATTACKER])
    with pytest.raises(AssertionError):
        assert_clean(message, "control")
