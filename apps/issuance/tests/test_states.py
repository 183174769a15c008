"""The card's life: each action from its allowed states only, with an event; random sequences never reach a state
the rules forbid (hypothesis drives the real services against the database)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.issuance.cards.services import CardError, TransitionInput, card_transition, cards_transition
from apps.issuance.models import CancelReason, Card, CardEvent, CardState, DisposalMethod
from apps.issuance.states import ACTIONS, BOOKABLE, FINAL
from apps.security.actors import as_actor
from apps.security.audit_models import AuditEvent
from apps.security.models import Role
from tenants.models import Municipality
from tests.factories import CardEventFactory, UserFactory, make_card

S = CardState

# What DOMAIN.md allows, written out independently of states.ACTIONS: state -> states reachable in one step.
ALLOWED_MOVES: dict[str, set[str]] = {
    S.DELIVERED: {S.SET_UP, S.RETENTION_EXPIRED, S.CANCELLED, S.MAILED},
    S.SET_UP: {S.NOTICE_MAILED, S.RETENTION_EXPIRED, S.CANCELLED, S.MAILED},
    S.NOTICE_MAILED: {S.RETURNED_MAIL, S.BOOKED, S.ISSUED, S.RETENTION_EXPIRED, S.CANCELLED},
    S.RETURNED_MAIL: {S.NOTICE_MAILED, S.BOOKED, S.ISSUED, S.RETENTION_EXPIRED, S.CANCELLED},
    S.BOOKED: {S.NOTICE_MAILED, S.ISSUED},
    S.RETENTION_EXPIRED: {S.DISPOSED, S.CANCELLED},
    S.CANCELLED: {S.DISPOSED},
    S.ISSUED: set(),
    S.DISPOSED: set(),
    S.MAILED: set(),
}
EXPRESS_NEVER = {S.NOTICE_MAILED, S.RETURNED_MAIL, S.BOOKED, S.ISSUED, S.RETENTION_EXPIRED}
NORMAL_NEVER = {S.MAILED}


def _change(name: str) -> TransitionInput:
    return TransitionInput(
        action=name,
        reason="テスト",
        disposal_method=DisposalMethod.DESTROYED,
        cancel_reason=CancelReason.MOVED_OUT,
    )


@pytest.fixture
def supervisor(in_city: Municipality) -> Any:
    return UserFactory(username="card-supervisor", role=Role.SUPERVISOR)


@pytest.mark.django_db(transaction=False)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(express=st.booleans(), steps=st.lists(st.sampled_from(sorted(ACTIONS)), min_size=1, max_size=12))
def test_random_sequences_never_reach_a_forbidden_state(
    supervisor: Any, express: bool, steps: list[str]
) -> None:
    card = make_card(state=S.DELIVERED, express=express)
    events_before = CardEvent.objects.filter(card=card).count()
    history = [card.state]
    for name in steps:
        state = Card.objects.get(pk=card.pk).state
        try:
            event = card_transition(
                card_id=card.pk, change=_change(name), actor=as_actor(supervisor), audit=False
            )
        except CardError as refusal:
            message = str(refusal)  # a message for the staff member
            refused = True
        else:
            refused = False
        if refused:
            assert message
            assert Card.objects.get(pk=card.pk).state == state  # nothing changed
            continue
        new = Card.objects.get(pk=card.pk).state
        assert event.from_state == state
        assert event.to_state == new
        if new != state:
            assert new in ALLOWED_MOVES[state], f"{state} -> {new} by {name}"
        assert state not in FINAL or new == state
        history.append(new)
    forbidden = EXPRESS_NEVER if express else NORMAL_NEVER
    assert not forbidden & set(history), history
    # Every successful action left exactly one event, every refusal none.
    moves = CardEvent.objects.filter(card=card).count() - events_before
    assert moves >= len(history) - 1


def test_each_action_refuses_the_states_it_does_not_come_from(supervisor: Any) -> None:
    for name, action in ACTIONS.items():
        for state in S:
            card = make_card(state=state, express=action.express is True)
            if state in action.sources:
                card_transition(
                    card_id=card.pk, change=_change(name), actor=as_actor(supervisor), audit=False
                )
                continue
            with pytest.raises(CardError, match=str(state.label)):
                card_transition(
                    card_id=card.pk, change=_change(name), actor=as_actor(supervisor), audit=False
                )
            assert not CardEvent.objects.filter(card=card).exists()


def test_a_transition_records_who_when_why_and_audits(supervisor: Any) -> None:
    card = make_card(state=S.NOTICE_MAILED)
    event = card_transition(
        card_id=card.pk,
        change=TransitionInput(action="cancel", cancel_reason=CancelReason.DIED, reason="戸籍から"),
        actor=as_actor(supervisor),
    )
    card.refresh_from_db()
    assert card.state == S.CANCELLED
    assert card.cancel_reason == CancelReason.DIED
    assert event.by == supervisor
    assert event.reason == "戸籍から"
    assert event.from_state == S.NOTICE_MAILED
    audit = AuditEvent.objects.filter(action="card.cancel").get()
    assert audit.target == f"Card:{card.pk}"
    assert audit.after["state"] == S.CANCELLED


def test_dispose_needs_a_method_and_other_cancel_needs_a_reason(supervisor: Any) -> None:
    card = make_card(state=S.RETENTION_EXPIRED)
    with pytest.raises(CardError, match="廃棄の方法"):
        card_transition(card_id=card.pk, change=TransitionInput(action="dispose"), actor=as_actor(supervisor))
    with pytest.raises(CardError, match="取消の理由を入力"):
        card_transition(
            card_id=card.pk,
            change=TransitionInput(action="cancel", cancel_reason=CancelReason.OTHER),
            actor=as_actor(supervisor),
        )
    assert not CardEvent.objects.filter(card=card).exists()


def test_express_cards_are_mailed_and_never_booked(supervisor: Any) -> None:
    card = make_card(state=S.SET_UP, express=True)
    with pytest.raises(CardError, match="特急"):
        card_transition(card_id=card.pk, change=_change("mail_notice"), actor=as_actor(supervisor))
    card_transition(card_id=card.pk, change=_change("mail_to_resident"), actor=as_actor(supervisor))
    assert Card.objects.get(pk=card.pk).state == S.MAILED
    assert S.MAILED not in BOOKABLE


def test_bulk_skips_the_cards_the_action_does_not_fit_and_changes_the_rest(supervisor: Any) -> None:
    fits = [make_card(state=S.DELIVERED) for _ in range(3)]
    issued = make_card(state=S.ISSUED)
    result = cards_transition(
        card_ids=[c.pk for c in [*fits, issued]], change=_change("set_up"), actor=as_actor(supervisor)
    )
    assert result.done == 3
    assert [number for number, _why in result.skipped] == [issued.notice_number]
    assert set(Card.objects.filter(pk__in=[c.pk for c in fits]).values_list("state", flat=True)) == {S.SET_UP}
    assert Card.objects.get(pk=issued.pk).state == S.ISSUED
    assert AuditEvent.objects.filter(action="card.bulk_set_up").count() == 1


def test_bulk_needs_the_supervisor_permission(in_city: Municipality) -> None:
    from django.core.exceptions import PermissionDenied

    staff = UserFactory(username="card-staff", role=Role.STAFF)
    card = make_card(state=S.DELIVERED)
    with pytest.raises(PermissionDenied):
        cards_transition(card_ids=[card.pk], change=_change("set_up"), actor=as_actor(staff))
    assert Card.objects.get(pk=card.pk).state == S.DELIVERED


def test_another_city_neither_sees_nor_changes_the_cards(
    city: Municipality, other_city: Municipality
) -> None:
    from django_tenants.utils import schema_context

    with schema_context(city.schema_name):
        card = make_card(state=S.DELIVERED)
        CardEventFactory.create(card=card, kind="imported", at=card.state_changed_at)
    with schema_context(other_city.schema_name):
        supervisor = UserFactory(username="okegawa-card-supervisor", role=Role.SUPERVISOR)
        assert Card.objects.count() == 0
        assert CardEvent.objects.count() == 0
        assert not Card.objects.filter(notice_number=card.notice_number).exists()
        with pytest.raises(CardError):
            card_transition(card_id=card.pk, change=_change("set_up"), actor=as_actor(supervisor))
        assert (
            cards_transition(card_ids=[card.pk], change=_change("set_up"), actor=as_actor(supervisor)).done
            == 0
        )
    with schema_context(city.schema_name):
        assert Card.objects.get(pk=card.pk).state == S.DELIVERED
