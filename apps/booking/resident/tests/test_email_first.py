"""Email first (BookingSettings.confirm_email_first): the times page mails a signed link; the link opens the form."""

from __future__ import annotations

import re

import pytest
from django.core import mail, signing
from django.test import Client
from django.utils import timezone

from apps.booking.calendar.services import settings_ensure
from apps.booking.models import BookingSettings, Hold, Slot
from apps.booking.resident.services import email_link_token
from apps.booking.tests.resident_helpers import application
from tenants.models import Municipality
from tests.factories import SlotFactory, visit_day


@pytest.fixture
def email_first(in_city: Municipality) -> BookingSettings:
    settings = settings_ensure()
    settings.confirm_email_first = True
    settings.save()
    return settings


def _ask_for_link(client: Client, slot: Slot, email: str = "hanako@example.jp") -> str:
    day = slot.start.date().isoformat()
    response = client.post(f"/book/application/{day}/", {"slot": slot.pk, "persons": 1, "email": email})
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "メールを送りました" in response.content.decode()
    match = re.search(r"http://ageo\.localhost(/book/start/[^/\s]+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_the_times_page_asks_for_an_email_and_holds_nothing_until_the_link_is_used(
    email_first: BookingSettings, city_client: Client
) -> None:
    slot = SlotFactory.create(day=visit_day())
    times = city_client.get(f"/book/application/{slot.start.date().isoformat()}/").content.decode()
    assert 'name="email"' in times
    link = _ask_for_link(city_client, slot)
    assert mail.outbox[0].to == ["hanako@example.jp"]
    assert not Hold.objects.exists()

    # Opening the link (or a mail scanner prefetching it) shows the choice and holds nothing yet.
    page = city_client.get(link)
    assert page.status_code == 200
    assert "hanako@example.jp" in page.content.decode()
    assert not Hold.objects.exists()

    response = city_client.post(link)
    assert response.status_code == 302
    hold = Hold.objects.get()
    assert response["Location"] == f"/book/hold/{hold.token}/"
    form = city_client.get(response["Location"]).content.decode()
    assert 'value="hanako@example.jp"' in form
    assert re.search(r'<input[^>]*name="email"[^>]*disabled', form)


def test_the_fixed_email_cannot_be_changed_in_the_form(
    email_first: BookingSettings, city_client: Client, django_capture_on_commit_callbacks: object
) -> None:
    slot = SlotFactory.create(day=visit_day())
    hold_url = city_client.post(_ask_for_link(city_client, slot))["Location"]
    html = city_client.get(hold_url).content.decode()
    key = re.search(r'name="submission_key" value="([^"]*)"', html)
    assert key
    data = {
        "p1-name": "上尾 花子",
        "p1-kana": "",
        "p1-birth_date_0": "western",
        "p1-birth_date_1": "1980",
        "p1-birth_date_2": "4",
        "p1-birth_date_3": "1",
        "email": "attacker@example.jp",
        "phone": "090-1234-5678",
        "submission_key": key.group(1),
    }
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = city_client.post(hold_url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert mail.outbox[-1].to == ["hanako@example.jp"]


def test_a_forged_or_expired_link_is_refused(
    email_first: BookingSettings, city_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    slot = SlotFactory.create(day=visit_day())
    token = email_link_token(slot_id=slot.pk, purpose_id=application().pk, persons=1, email="a@example.jp")
    assert city_client.get(f"/book/start/{token[:-2]}xx/").status_code == 410
    later = timezone.now().timestamp() + 31 * 60
    with monkeypatch.context() as patch:
        patch.setattr(signing.time, "time", lambda: later)
        assert city_client.get(f"/book/start/{token}/").status_code == 410
    assert city_client.post(f"/book/start/{token}/").status_code == 302  # within 30 minutes it works


def test_link_requests_are_rate_limited_per_address(
    email_first: BookingSettings, city_client: Client
) -> None:
    slot = SlotFactory.create(day=visit_day())
    day = slot.start.date().isoformat()
    statuses = [
        city_client.post(
            f"/book/application/{day}/", {"slot": slot.pk, "persons": 1, "email": "x@example.jp"}
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    assert len(mail.outbox) == 3


def test_without_the_setting_the_times_page_holds_at_once(in_city: Municipality, city_client: Client) -> None:
    slot = SlotFactory.create(day=visit_day())
    response = city_client.post(
        f"/book/application/{slot.start.date().isoformat()}/", {"slot": slot.pk, "persons": 1}
    )
    assert response.status_code == 302
    assert Hold.objects.count() == 1
    assert not mail.outbox
