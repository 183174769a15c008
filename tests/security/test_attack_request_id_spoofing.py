"""Issue 10, item 9: an X-Request-ID is taken only from a trusted proxy.

Before, any client's X-Request-ID went into the logs and the audit log: an attacker could give its requests the id
of someone else's, so a trail joined by request id mixed both. Now a client's value is replaced by a fresh id; our
own proxy's (nginx's $request_id) is kept, so the proxy's and the app's logs still join.
"""

from __future__ import annotations

from django.test import Client, override_settings
from django_tenants.utils import schema_context

from apps.security.audit_models import AuditEvent
from conftest import OUTSIDE_ADDRESS
from tenants.models import Municipality

CHOSEN = "victim-request-0001"


def _refusal(city: Municipality) -> AuditEvent:
    with schema_context(city.schema_name):
        event = AuditEvent.objects.filter(action="network.refused").order_by("-sequence").first()
    assert event is not None
    return event


def test_a_clients_request_id_is_replaced_in_the_response_and_the_audit_log(city: Municipality) -> None:
    client = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=OUTSIDE_ADDRESS, HTTP_X_REQUEST_ID=CHOSEN)
    response = client.get("/staff/")
    assert response.status_code == 403
    assert response["X-Request-ID"] != CHOSEN
    assert len(response["X-Request-ID"]) == 32  # one of ours
    assert _refusal(city).request_id == response["X-Request-ID"]


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_a_client_behind_our_proxy_cannot_send_one_either_unless_the_proxy_sets_it(
    city: Municipality,
) -> None:
    # The peer is what decides, not the forwarded client: a request that reached us from elsewhere is replaced.
    direct = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=OUTSIDE_ADDRESS, HTTP_X_REQUEST_ID=CHOSEN)
    assert direct.get("/").headers["X-Request-ID"] != CHOSEN


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_our_proxys_request_id_is_kept(city: Municipality) -> None:
    proxied = Client(
        HTTP_HOST="ageo.localhost",
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR=OUTSIDE_ADDRESS,
        HTTP_X_REQUEST_ID="0123456789abcdef0123456789abcdef",
    )
    response = proxied.get("/staff/")
    assert response.status_code == 403
    assert response["X-Request-ID"] == "0123456789abcdef0123456789abcdef"
    assert _refusal(city).request_id == "0123456789abcdef0123456789abcdef"


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_even_our_proxys_id_is_replaced_when_it_is_not_plain(city: Municipality) -> None:
    proxied = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR="127.0.0.1", HTTP_X_REQUEST_ID="a b\tc<script>")
    assert proxied.get("/").headers["X-Request-ID"] != "a b\tc<script>"
