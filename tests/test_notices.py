"""The shared notice behaviour (base.notices.BilingualNotice) on both tables that use it.

A city's Announcement (in the city's schema) and the vendor's MaintenanceProposal (in the public schema) must show
the same window, language fallback and sanitising: each test runs once per model.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django_tenants.utils import schema_context

from apps.booking.models_content import Announcement
from base.notices import BilingualNotice, notice_language
from console.maintenance.models import MaintenanceProposal
from tenants.models import Municipality

HOSTILE = '<p>本文</p><script>alert(1)</script><a href="javascript:x()" onclick="y()">a</a>'


@pytest.fixture(params=[Announcement, MaintenanceProposal], ids=["announcement", "maintenance"])
def model(request: pytest.FixtureRequest, city: Municipality) -> Iterator[type[BilingualNotice]]:
    # Each table in the schema it lives in: a city's announcements, the vendor's notices in public.
    schema = city.schema_name if request.param is Announcement else "public"
    with schema_context(schema):
        yield request.param


def _make(model: type[BilingualNotice], **values: Any) -> BilingualNotice:
    now = timezone.now()
    fields: dict[str, Any] = {"title_ja": "お知らせ", "starts_at": now - timedelta(hours=1), **values}
    if model is MaintenanceProposal:  # the window itself, which the notice's display period announces
        fields.update(
            window_start=now + timedelta(days=1), window_end=now + timedelta(days=2), modules=["booking"]
        )
    return model.objects.create(**fields)


def test_shown_only_inside_the_window(model: type[BilingualNotice]) -> None:
    now = timezone.now()
    _make(model, title_ja="掲載中", starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1))
    _make(model, title_ja="終了なし", starts_at=now - timedelta(days=1))
    _make(model, title_ja="まだ先", starts_at=now + timedelta(days=1))
    _make(model, title_ja="終わった", starts_at=now - timedelta(days=3), ends_at=now - timedelta(days=1))
    _make(model, title_ja="ちょうど終了", starts_at=now - timedelta(days=1), ends_at=now)
    shown = {n.title_ja for n in model.objects.shown_at(now)}
    assert shown == {"掲載中", "終了なし"}
    # The instance method agrees with the query, row by row.
    assert {n.title_ja for n in model.objects.all() if n.is_shown_at(now)} == shown


def test_english_with_a_japanese_fallback_per_field(model: type[BilingualNotice]) -> None:
    both = _make(
        model, title_ja="臨時休業", title_en="Closed", body_ja="<p>休み</p>", body_en="<p>Closed</p>"
    )
    assert (both.title_for("en"), both.body_for("en")) == ("Closed", "<p>Closed</p>")
    assert (both.title_for("en-us"), both.title_for("ja")) == ("Closed", "臨時休業")
    assert both.body_for("ja") == "<p>休み</p>"
    japanese_only = _make(model, title_ja="点検", body_ja="<p>点検します</p>")
    assert (japanese_only.title_for("en"), japanese_only.body_for("en")) == ("点検", "<p>点検します</p>")
    # An English title without an English body: the Japanese body rather than none.
    title_only = _make(model, title_ja="停止", title_en="Outage", body_ja="<p>停止します</p>")
    assert (title_only.title_for("en"), title_only.body_for("en")) == ("Outage", "<p>停止します</p>")


def test_no_language_means_the_active_one(model: type[BilingualNotice]) -> None:
    notice = _make(model, title_ja="臨時休業", title_en="Closed")
    with translation.override("en"):
        assert notice_language() == "en"
        assert notice.title_for() == "Closed"
    with translation.override("ja"):
        assert notice.title_for() == "臨時休業"


def test_bodies_are_sanitised_on_save_and_on_the_way_out(model: type[BilingualNotice]) -> None:
    notice = _make(model, body_ja=HOSTILE, body_en=HOSTILE)
    notice.refresh_from_db()
    for stored in (notice.body_ja, notice.body_en):
        assert "<script" not in stored
        assert "javascript:" not in stored
        assert "onclick" not in stored
        assert "<p>本文</p>" in stored
    # A row written behind the model's back is still cleaned when read for a page.
    model.objects.filter(pk=notice.pk).update(body_ja=HOSTILE)
    notice.refresh_from_db()
    shown = notice.body_for("ja")
    assert "<script" not in shown
    assert "javascript:" not in shown
    assert "<p>本文</p>" in shown


def test_an_end_before_the_start_is_refused_in_japanese(model: type[BilingualNotice]) -> None:
    now = timezone.now()
    notice = model(title_ja="期間の誤り", starts_at=now, ends_at=now - timedelta(days=1))
    with pytest.raises(ValidationError) as refused:
        notice.full_clean()
    assert refused.value.message_dict["ends_at"] == ["掲載終了は掲載開始より後にしてください。"]
