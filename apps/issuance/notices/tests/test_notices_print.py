"""Printing notices from the staff pages: the PDF download, the print log, the cards' history, refusals, who may
print, and another city seeing none of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pypdfium2 as pdfium
import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.issuance.cards.services import CardError
from apps.issuance.models import Card, CardEvent, CardState, EventKind, NoticePrint
from apps.issuance.notices.services import Selection, notices_print
from apps.security.actors import as_actor
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import CardFactory, NoticePrintFactory, UserFactory, role_client, supervisor_user

INDEX = "/staff/cards/notices/"
LOG = "/staff/cards/notices/log/"
BATCH = "2026-11-01"
MM = 72 / 25.4


def card_pdf_url(card: Card, query: str = "") -> str:
    return f"/staff/cards/notices/card/{card.pk}.pdf{query}"


def make_card(city: Municipality, **kwargs: Any) -> Card:
    with schema_context(city.schema_name):
        return CardFactory.create(**kwargs)


def pdf_pages(content: bytes) -> list[str]:
    return [re.sub(r"[\r\n]+", "", p.get_textpage().get_text_range()) for p in pdfium.PdfDocument(content)]


def form(**overrides: str) -> dict[str, str]:
    return {
        "batch": BATCH,
        "state": "",
        "variant": "letter",
        "kind": "notice",
        "action": "download",
        **overrides,
    }


def in_schema(city: Municipality, query: Any) -> Any:
    with schema_context(city.schema_name):
        return query()


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR, username="notice-boss")


@pytest.fixture
def as_city(city: Municipality) -> Iterator[Municipality]:
    """The city as a request would set it: its schema, its name and phone, its primary domain."""
    connection.set_tenant(city)
    yield city
    connection.set_schema_to_public()


def test_a_batch_downloads_as_one_pdf_in_postal_code_order_and_is_logged(
    supervisor: Client, city: Municipality
) -> None:
    far = make_card(city, postal_code="363-0001", address="埼玉県桶川市", state=CardState.SET_UP)
    near = make_card(city, postal_code="362-0001", address="埼玉県上尾市", state=CardState.SET_UP)
    make_card(city, delivery_batch="2026-10-01")  # another batch: not printed

    response = supervisor.post(INDEX, form())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="notice-2026-11-01-letter-')
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded).startswith("交付通知書_2026-11-01_A4_")
    assert response["Cache-Control"] == "no-store"
    texts = pdf_pages(response.content)
    assert len(texts) == 2
    assert near.notice_number in texts[0]
    assert far.notice_number in texts[1]
    assert "転送不要" in texts[0]
    assert near.name in texts[0]
    assert "048-775-5111" in texts[0]  # the city's phone (its contact number)
    assert "上尾市" in texts[0]
    assert f"ageo.localhost/n/{near.notice_number.replace('-', '')}" in texts[0]
    assert "交付通知書、本人確認書類" in texts[0]  # the pickup purpose's things to bring

    log = in_schema(city, lambda: NoticePrint.objects.get())
    assert (log.variant, log.kind, log.delivery_batch, log.card_count) == ("letter", "notice", BATCH, 2)
    assert in_schema(city, lambda: set(log.cards.values_list("pk", flat=True))) == {near.pk, far.pk}
    events = in_schema(
        city, lambda: list(CardEvent.objects.filter(kind=EventKind.PRINTED).select_related("by"))
    )
    assert {e.card_id for e in events} == {near.pk, far.pk}
    assert all(e.by.username == "notice-boss" for e in events)
    assert all(e.data["print_id"] == log.pk for e in events)
    assert (
        in_schema(city, lambda: Card.objects.get(pk=near.pk).state) == CardState.SET_UP
    )  # printing is not mailing
    audit = in_schema(city, lambda: AuditEvent.objects.filter(action="card.notices_printed").get())
    assert audit.after["count"] == 2


def test_mark_as_mailed_moves_the_set_up_cards_only(supervisor: Client, city: Municipality) -> None:
    ready = make_card(city, state=CardState.SET_UP)
    waiting = make_card(city, state=CardState.NOTICE_MAILED)  # a reprint: stays as it is

    response = supervisor.post(INDEX, form(mark_mailed="on"))

    assert response.status_code == 200
    assert in_schema(city, lambda: Card.objects.get(pk=ready.pk).state) == CardState.NOTICE_MAILED
    assert in_schema(city, lambda: Card.objects.get(pk=waiting.pk).state) == CardState.NOTICE_MAILED
    mailed = in_schema(city, lambda: list(CardEvent.objects.filter(kind=EventKind.NOTICE_MAILED)))
    assert [e.card_id for e in mailed] == [ready.pk]


def test_the_preview_counts_before_anything_is_printed(supervisor: Client, city: Municipality) -> None:
    make_card(city, state=CardState.SET_UP)
    make_card(city, state=CardState.SET_UP)
    make_card(city, state=CardState.NOTICE_MAILED)

    response = supervisor.post(INDEX, form(action="preview", mark_mailed="on"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "印刷する通知書: 3枚" in body
    assert "「通知書発送済」にするカード: 2件" in body
    assert in_schema(city, lambda: NoticePrint.objects.count()) == 0
    assert in_schema(city, lambda: CardEvent.objects.count()) == 0


def test_final_and_cancelled_cards_refuse_the_whole_print_and_are_listed(
    supervisor: Client, city: Municipality
) -> None:
    make_card(city, state=CardState.SET_UP)
    issued = make_card(city, state=CardState.ISSUED)
    cancelled = make_card(city, state=CardState.CANCELLED)

    response = supervisor.post(INDEX, form())

    assert response.status_code == 400
    body = response.content.decode()
    assert "印刷できないカードが 2 件あります" in body
    assert issued.notice_number in body
    assert cancelled.notice_number in body
    assert "交付済" in body
    assert 'value="2026-11-01" selected' in body  # the choice is kept
    assert in_schema(city, lambda: NoticePrint.objects.count()) == 0
    assert in_schema(city, lambda: CardEvent.objects.count()) == 0

    preview = supervisor.post(INDEX, form(action="preview")).content.decode()
    assert issued.notice_number in preview
    assert "印刷できないカードが 2件あります" in preview


def test_choosing_by_state_prints_only_that_state(supervisor: Client, city: Municipality) -> None:
    make_card(city, state=CardState.ISSUED)
    ready = make_card(city, state=CardState.SET_UP, delivery_batch="2026-10-01")

    response = supervisor.post(INDEX, form(batch="", state="set_up"))

    assert response.status_code == 200
    (text,) = pdf_pages(response.content)
    assert ready.notice_number in text


def test_nothing_chosen_or_nothing_found_is_a_clear_refusal(supervisor: Client) -> None:
    response = supervisor.post(INDEX, form(batch="", state=""))
    assert response.status_code == 400
    assert "納品回かカードの状態を選んでください。" in response.content.decode()

    response = supervisor.post(INDEX, form(batch="", state="returned_mail"))
    assert response.status_code == 400
    assert "印刷するカードがありません。" in response.content.decode()

    response = supervisor.post(INDEX, form(variant="a3"))
    assert response.status_code == 400


def test_a_reminder_prints_a_reminder_heading_and_records_the_reminder(
    supervisor: Client, city: Municipality
) -> None:
    waiting = make_card(city, state=CardState.NOTICE_MAILED)

    response = supervisor.post(INDEX, form(kind="reminder", variant="postcard", mark_mailed="on"))

    assert response.status_code == 200
    assert unquote(response["Content-Disposition"].split("''", 1)[1]).startswith("再通知_2026-11-01_はがき_")
    (text,) = pdf_pages(response.content)
    assert "（再通知）" in text
    kinds = in_schema(
        city, lambda: sorted(CardEvent.objects.filter(card_id=waiting.pk).values_list("kind", flat=True))
    )
    assert kinds == [EventKind.PRINTED, EventKind.REMINDER]
    card = in_schema(city, lambda: Card.objects.get(pk=waiting.pk))
    assert card.state == CardState.NOTICE_MAILED
    assert card.notice_mailed_at is not None
    assert in_schema(city, lambda: NoticePrint.objects.get().kind) == "reminder"


def test_a_reminder_is_refused_for_a_card_whose_notice_was_never_mailed(
    supervisor: Client, city: Municipality
) -> None:
    ready = make_card(city, state=CardState.SET_UP)

    response = supervisor.post(INDEX, form(kind="reminder"))

    assert response.status_code == 400
    assert ready.notice_number in response.content.decode()
    assert "再通知は「通知書発送済」のカードにだけ印刷できます" in response.content.decode()


def test_one_cards_pdf_in_each_variant(supervisor: Client, city: Municipality) -> None:
    card = make_card(city, state=CardState.SET_UP)

    letter = supervisor.get(card_pdf_url(card))
    postcard = supervisor.get(card_pdf_url(card, "?variant=postcard&kind=notice"))

    assert letter.status_code == 200
    assert postcard.status_code == 200
    sizes = [
        tuple(round(v / MM) for v in pdfium.PdfDocument(r.content)[0].get_size()) for r in (letter, postcard)
    ]
    assert sizes == [(210, 297), (100, 148)]
    assert card.notice_number in pdf_pages(postcard.content)[0]
    assert unquote(letter["Content-Disposition"].split("''", 1)[1]).startswith(
        f"交付通知書_{card.notice_number}_A4_"
    )
    logs = in_schema(
        city, lambda: list(NoticePrint.objects.values_list("variant", "card_count", "delivery_batch"))
    )
    assert sorted(logs) == [("letter", 1, ""), ("postcard", 1, "")]


def test_one_cards_pdf_is_refused_for_a_final_card_and_a_bad_query(
    supervisor: Client, city: Municipality
) -> None:
    issued = make_card(city, state=CardState.ISSUED)
    card = make_card(city)

    refused = supervisor.get(card_pdf_url(issued))
    assert refused.status_code == 409
    assert issued.notice_number in refused.content.decode()
    assert "「交付済」のカードには通知書を印刷できません。" in refused.content.decode()
    assert supervisor.get(card_pdf_url(card, "?variant=a3")).status_code == 400
    assert supervisor.get("/staff/cards/notices/card/999999.pdf").status_code == 404
    assert in_schema(city, lambda: NoticePrint.objects.count()) == 0


def test_the_print_log_shows_who_when_how_many_which_batch_and_paper(
    supervisor: Client, city: Municipality
) -> None:
    make_card(city, state=CardState.SET_UP)
    supervisor.post(INDEX, form(variant="postcard"))

    body = supervisor.get(LOG).content.decode()

    assert "notice-boss" in body
    assert "はがき" in body
    assert "交付通知書" in body
    assert BATCH in body
    assert re.search(r'<td class="table__num">1</td>', body)


def test_the_print_log_query_count_does_not_grow_with_rows(supervisor: Client, city: Municipality) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert supervisor.get(LOG).status_code == 200
        return len(captured)

    with schema_context(city.schema_name):
        boss = supervisor_user(username="log-writer")
        NoticePrintFactory.create(variant="letter", kind="notice", card_count=1, by=boss)
    queries()  # the first request of a session fills caches
    few = queries()
    with schema_context(city.schema_name):
        for n in range(10):
            writer = supervisor_user(username=f"log-writer{n}")
            NoticePrintFactory.create(variant="postcard", kind="reminder", card_count=n + 1, by=writer)
    assert queries() == few


def test_counter_staff_may_not_print_and_anonymous_goes_to_login(
    city: Municipality, city_client: Client
) -> None:
    card = make_card(city, state=CardState.SET_UP)
    staff = role_client(city, Role.STAFF)
    for url in (INDEX, LOG, card_pdf_url(card)):
        assert staff.get(url).status_code == 403
        anonymous = city_client.get(url)
        assert anonymous.status_code == 302
        assert "/accounts/login/" in anonymous["Location"]
    assert staff.post(INDEX, form()).status_code == 403
    assert in_schema(city, lambda: NoticePrint.objects.count()) == 0


def test_the_service_checks_the_permission_too(as_city: Municipality) -> None:
    card = CardFactory.create(state=CardState.SET_UP)
    staff = UserFactory(username="counter-only", role=Role.STAFF)
    with pytest.raises(PermissionDenied):
        notices_print(
            selection=Selection(card_ids=[card.pk]), variant="letter", kind="notice", actor=as_actor(staff)
        )
    boss = UserFactory(username="print-boss", role=Role.SUPERVISOR)
    with pytest.raises(CardError):
        notices_print(
            selection=Selection(card_ids=[card.pk]), variant="a3", kind="notice", actor=as_actor(boss)
        )
    result = notices_print(
        selection=Selection(card_ids=[card.pk]), variant="letter", kind="notice", actor=as_actor(boss)
    )
    assert result.log.card_count == 1
    assert result.pdf.startswith(b"%PDF")


def test_another_city_gets_404_for_this_citys_card_and_sees_no_prints(
    supervisor: Client, other_city: Municipality, city: Municipality
) -> None:
    card = make_card(city, state=CardState.SET_UP)
    supervisor.post(INDEX, form())
    other = role_client(other_city, Role.SUPERVISOR, username="okegawa-notices")

    assert other.get(card_pdf_url(card)).status_code == 404
    log = other.get(LOG).content.decode()
    assert "まだ印刷していません。" in log
    assert "notice-boss" not in log
    page = other.get(INDEX).content.decode()
    assert BATCH not in page  # this city's delivery batches are not offered there
    assert other.post(INDEX, form()).status_code == 400  # and cannot be chosen
    with schema_context(other_city.schema_name):
        assert NoticePrint.objects.count() == 0
        assert CardEvent.objects.count() == 0


@pytest.mark.parametrize(
    "state", [CardState.ISSUED, CardState.DISPOSED, CardState.MAILED, CardState.CANCELLED], ids=str
)
def test_every_final_or_cancelled_state_is_refused(as_city: Municipality, state: str) -> None:
    card = CardFactory.create(state=state, express=state == CardState.MAILED)
    boss = UserFactory(username="final-boss", role=Role.SUPERVISOR)
    with pytest.raises(CardError, match=re.escape(str(card.notice_number))):
        notices_print(
            selection=Selection(card_ids=[card.pk]), variant="postcard", kind="notice", actor=as_actor(boss)
        )
    assert NoticePrint.objects.count() == 0
    assert CardEvent.objects.count() == 0


def test_an_individual_number_in_the_form_is_refused_and_nothing_printed(
    supervisor: Client, city: Municipality
) -> None:
    make_card(city, state=CardState.SET_UP)
    response = supervisor.post(INDEX, form(batch="1234 5678 9018"))
    assert response.status_code == 400
    assert "個人番号（マイナンバー）は入力しないでください。" in response.content.decode()
    assert in_schema(city, lambda: NoticePrint.objects.count()) == 0


def test_a_large_selection_is_printed_in_parts_in_postal_code_order(
    supervisor: Client, monkeypatch: pytest.MonkeyPatch, city: Municipality
) -> None:
    from apps.issuance.notices import services as services_notices

    monkeypatch.setattr(services_notices, "PART_SIZE", 2)
    with schema_context(city.schema_name):
        for number, postal in (
            ("P1P-000001", "3620003"),
            ("P1P-000002", "3620001"),
            ("P1P-000003", "3620002"),
        ):
            make_card(
                city, notice_number=number, postal_code=postal, delivery_batch="PARTS", state=CardState.SET_UP
            )
    whole = supervisor.post(INDEX, form(batch="PARTS"))
    assert whole.status_code == 400
    assert "3通は一度に印刷できません" in whole.content.decode()
    preview = supervisor.post(INDEX, form(batch="PARTS", action="preview")).content.decode()
    assert "2通ずつ2回に分けて" in preview
    parts = []
    for part in ("1", "2"):
        response = supervisor.post(INDEX, form(batch="PARTS", part=part))
        assert response.status_code == 200
        parts.append("".join(pdf_pages(response.content)))
    assert "P1P-000002" in parts[0]
    assert "P1P-000003" in parts[0]  # 362-0001 and 362-0002 first
    assert "P1P-000001" in parts[1]
    assert "P1P-000001" not in parts[0]
