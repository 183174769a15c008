"""Nothing personal leaves in a Sentry event; every log line carries request id, tenant and user."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client, override_settings

from base.log_context import request_id_var, tenant_var, user_var
from madoguchi.config import SentryConfig
from madoguchi.logs import JsonFormatter
from madoguchi.observability import REDACTED, before_send, init_sentry


def _event() -> dict[str, object]:
    return {
        "request": {
            "url": "https://ageo.madoguchi.jp/book/",
            "data": {"name": "山田太郎", "birth_date": "1980-04-01"},
            "query_string": "email=taro@example.jp",
            "headers": {"Cookie": "sessionid=abc", "User-Agent": "Mozilla"},
        },
        "user": {"email": "taro@example.jp"},
        "extra": {
            "resident": {"name_kana": "ヤマダタロウ", "address": "上尾市本町1-1-1", "phone": "048-775-5111"},
            "count": 3,
        },
        "exception": {"values": [{"value": "bad date 1980-04-01 for taro@example.jp tel 090-1234-5678"}]},
        "tags": {"tenant": "ageo"},
    }


def test_sentry_event_is_scrubbed_of_residents_data() -> None:
    event = before_send(_event(), {})
    text = json.dumps(event, ensure_ascii=False)
    for secret in (
        "山田太郎",
        "1980-04-01",
        "taro@example.jp",
        "ヤマダタロウ",
        "上尾市本町",
        "048-775-5111",
        "090-1234-5678",
        "sessionid=abc",
    ):
        assert secret not in text
    assert "user" not in event
    assert event["extra"]["count"] == 3  # type: ignore[index]
    assert event["tags"] == {"tenant": "ageo"}
    assert event["request"]["data"] == REDACTED  # type: ignore[index]


def test_sentry_is_off_without_a_dsn_and_private_with_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert init_sentry(SentryConfig(dsn=None, environment="test", traces_sample_rate=0)) is False
    seen: dict[str, object] = {}
    import sentry_sdk

    monkeypatch.setattr(sentry_sdk, "init", lambda **kwargs: seen.update(kwargs))
    assert init_sentry(
        SentryConfig(dsn="https://key@sentry.example/1", environment="test", traces_sample_rate=0)
    )
    assert seen["send_default_pii"] is False
    assert seen["before_send"] is before_send


def test_json_log_line_has_request_tenant_and_user() -> None:
    tokens = (request_id_var.set("req-123"), tenant_var.set("ageo"), user_var.set("42"))
    try:
        record = logging.LogRecord("madoguchi", logging.INFO, __file__, 1, "予約を受け付けました", None, None)
        from base.log_context import ContextFilter

        ContextFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    finally:
        for var, token in zip((request_id_var, tenant_var, user_var), tokens, strict=True):
            var.reset(token)
    assert line["message"] == "予約を受け付けました"
    assert (line["request_id"], line["tenant"], line["user"]) == ("req-123", "ageo", "42")


def test_request_logs_carry_the_city_and_the_response_its_id(
    city_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("madoguchi.test")

    from madoguchi import views

    original = views.city_home

    def home(request):  # type: ignore[no-untyped-def]
        logger.warning("page served")
        return original(request)

    # The test client's peer (127.0.0.1) as our proxy: only a trusted proxy's request id is taken.
    with override_settings(ROOT_URLCONF="madoguchi.urls_tenant", TRUSTED_PROXIES=["127.0.0.1/32"]):
        import madoguchi.urls_tenant as urls

        urls.urlpatterns[0].callback = home  # type: ignore[union-attr]
        try:
            response = city_client.get("/", HTTP_X_REQUEST_ID="trace-abcdef12")
        finally:
            urls.urlpatterns[0].callback = original  # type: ignore[union-attr]
    record = next(r for r in caplog.records if r.getMessage() == "page served")
    assert record.tenant == "ageo"  # type: ignore[attr-defined]
    assert record.request_id == "trace-abcdef12"  # type: ignore[attr-defined]
    assert response["X-Request-ID"] == "trace-abcdef12"


def test_a_malformed_request_id_is_replaced(city_client: Client) -> None:
    response = city_client.get("/healthz", HTTP_X_REQUEST_ID="bad\r\nSet-Cookie: x=1")
    assert "\n" not in response["X-Request-ID"]
    assert len(response["X-Request-ID"]) == 32


def test_sentry_event_never_carries_an_individual_number() -> None:
    """A URL, a message or an exception may hold a 個人番号 someone typed where no form looks."""
    event = before_send(
        {
            "request": {"url": "https://ageo.madoguchi.jp/staff/counter/?q=1234%205678%209018"},
            "message": "lookup failed for 123456789018",
            "exception": {"values": [{"value": "ValueError: 1234-5678-9018 is not a notice number"}]},
        },
        {},
    )
    text = json.dumps(event, ensure_ascii=False)
    assert "123456789018" not in text
    assert "1234-5678-9018" not in text
    assert "1234%205678%209018" not in text
    assert "個人番号" in text
