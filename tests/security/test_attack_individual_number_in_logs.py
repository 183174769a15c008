"""Issue 10, item 6: a 個人番号 sent where no form looks landed in the logs (the access log's `GET /staff/counter/?q=…`,
Django's "Not Found: /…" for a path).

Here a client sends the number everywhere it can: the query string of every page of both hosts (signed out and
signed in), the path itself, the body of every form tests/security knows, a file name, and the User-Agent,
Referer and X-Request-ID headers. Everything the project's logging writes (root's handler as `logging_config`
installs it, in both formats, which Django's loggers and ours propagate to) is captured, and none of it may hold
the number. gunicorn's access log is checked the same way through the logger class ops/gunicorn.conf.py names.
"""

from __future__ import annotations

import io
import json
import logging
import runpy
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.module_loading import import_string

from madoguchi.logs import IndividualNumberFilter, JsonFormatter, mask_for_log
from tenants.models import Municipality
from tests.factories import role_client
from tests.security.targets import (
    HOSTS,
    FormTarget,
    Host,
    case_id,
    client_for,
    form_cases,
    paths,
    prepare,
    relax_for_attacks,
    sign_in,
    submit,
)

NUMBER = "123456789018"
# How the number reaches a log line: as typed, in groups, full width, and percent-encoded in a URL.
SPELLINGS = [NUMBER, "1234 5678 9018", "1234-5678-9018", "１２３４５６７８９０１８"]
DIGITS = (
    "123456789018",
    "１２３４５６７８９０１８",
    "1234 5678 9018",
    "1234-5678-9018",
    "1234%205678%209018",
)
HEADERS = {
    "HTTP_USER_AGENT": f"Mozilla/5.0 (番号 {NUMBER})",
    "HTTP_REFERER": f"https://ageo.localhost/staff/counter/?q={NUMBER}",
    "HTTP_X_REQUEST_ID": NUMBER,  # well-formed for a request id: it would be on every line of the request
}


@pytest.fixture(autouse=True)
def _attack_settings(settings: Any) -> None:
    relax_for_attacks(settings)


def _our_handlers() -> list[logging.Handler]:
    handlers = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, IndividualNumberFilter) for f in h.filters)
    ]
    assert handlers, "logging_config installed no handler with the individual-number filter on root"
    return handlers


@pytest.fixture(params=["text", "json"])
def written(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """What the project's own log handlers write, in the text and the JSON format, at DEBUG level."""
    out = io.StringIO()
    root = logging.getLogger()
    saved = [(h, h.stream, h.formatter) for h in _our_handlers() if isinstance(h, logging.StreamHandler)]
    level = root.level
    root.setLevel(logging.DEBUG)
    for handler, _stream, _formatter in saved:
        handler.setStream(out)
        if request.param == "json":
            handler.setFormatter(JsonFormatter())
    try:
        yield out
    finally:
        root.setLevel(level)
        for handler, stream, formatter in saved:
            handler.setStream(stream)
            handler.setFormatter(formatter)


def _assert_clean(text: str) -> None:
    for spelling in DIGITS:
        assert spelling not in text, f"{spelling!r} logged:\n" + "\n".join(
            line for line in text.splitlines() if spelling in line
        )


def test_every_handler_our_configuration_installs_masks_the_number() -> None:
    for name in ["", *logging.Logger.manager.loggerDict]:
        if name.startswith("sentry_sdk"):
            continue  # Sentry's own debug output about itself (events are scrubbed by observability.before_send)
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if type(handler).__module__.startswith(("_pytest", "pytest")) or isinstance(
                handler, logging.NullHandler
            ):
                continue  # the test runner's own capture; a handler that writes nothing
            assert any(isinstance(f, IndividualNumberFilter) for f in handler.filters), (
                name or "root",
                handler,
            )


def test_celery_leaves_logging_to_our_configuration() -> None:
    from celery.signals import setup_logging

    import madoguchi.celery  # noqa: F401  (connects its receivers)

    # Without a receiver the worker replaces root's handlers with its own, which lack the filter.
    assert setup_logging.receivers


@pytest.mark.parametrize("host", HOSTS)
def test_query_strings_paths_and_headers_of_every_page(
    city: Municipality, written: io.StringIO, host: Host
) -> None:
    # A page that fails (500) is logged with its traceback: that must be masked too, so no exception is raised here.
    signed_out = Client(
        HTTP_HOST=client_for(host).defaults["HTTP_HOST"], raise_request_exception=False, **HEADERS
    )
    signed_in = Client(
        HTTP_HOST=client_for(host).defaults["HTTP_HOST"], raise_request_exception=False, **HEADERS
    )
    sign_in(signed_in, host, role="supervisor")
    for index, path in enumerate(paths(host)):
        spelling = SPELLINGS[index % len(SPELLINGS)]
        for client in (signed_out, signed_in):
            client.get(path, {"q": spelling, "next": spelling, "page": spelling})
    for client in (signed_out, signed_in):
        for spelling in SPELLINGS:
            client.get(f"/{spelling}/")
            client.get(f"/staff/{spelling}/")
            client.get(f"/console/{spelling}/")
    output = written.getvalue()
    _assert_clean(output)
    assert "[個人番号]" in output  # the 404 lines were written, masked: the capture works


@pytest.mark.parametrize(("host", "form"), form_cases(), ids=case_id)
def test_the_body_of_every_form(
    city: Municipality, written: io.StringIO, host: Host, form: FormTarget
) -> None:
    client = client_for(host, **HEADERS)
    prepare(client, host, form)
    for spelling in SPELLINGS:
        data = {**form.data, **dict.fromkeys(form.text_fields, spelling)}
        assert submit(client, form, data).status_code < 500, form.name
    _assert_clean(written.getvalue())


def test_a_file_name(city: Municipality, written: io.StringIO, settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    from apps.security.models import Role

    client = role_client(city, Role.SUPERVISOR, "log-importer")
    for spelling in SPELLINGS:
        upload = SimpleUploadedFile(f"{spelling}.csv", "交付通知書番号\nA1B-000001\n".encode(), "text/csv")
        client.post("/staff/cards/import/upload/", {"file": upload}, **HEADERS)
    _assert_clean(written.getvalue())


def test_a_warning_with_the_number_in_its_arguments_and_extra(written: io.StringIO) -> None:
    logging.getLogger("apps.example").warning(
        "lookup %s failed for %r", "1234 5678 9018", {"q": NUMBER}, extra={"url": f"/x?q={NUMBER}"}
    )
    try:
        raise ValueError(f"bad value {NUMBER}")
    except ValueError:
        logging.getLogger("django.request").exception("Internal Server Error: /staff/%s/", NUMBER)
    output = written.getvalue()
    _assert_clean(output)
    assert "lookup [個人番号] failed" in output


def test_gunicorns_access_log_masks_the_request_line_referer_and_user_agent() -> None:
    from gunicorn.config import Config

    config = runpy.run_path(str(Path(__file__).resolve().parents[2] / "ops" / "gunicorn.conf.py"))
    logger_class = import_string(config["logger_class"])
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", '%(h)s "%(r)s" %(s)s "%(f)s" "%(a)s" %(U)s %(q)s')
    log = logger_class(cfg)
    out = io.StringIO()
    for handler in log.access_log.handlers:
        handler.setStream(out)
    for spelling in [
        "123456789018",
        "1234%205678%209018",
        "%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96%EF%BC%97%EF%BC%98%EF%BC%99%EF%BC%90%EF%BC%91%EF%BC%98",
    ]:
        environ = {
            "REMOTE_ADDR": "192.0.2.10",
            "REQUEST_METHOD": "GET",
            "RAW_URI": f"/staff/counter/?q={spelling}",
            "PATH_INFO": f"/{spelling}/",
            "QUERY_STRING": f"q={spelling}",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_REFERER": HEADERS["HTTP_REFERER"],
            "HTTP_USER_AGENT": HEADERS["HTTP_USER_AGENT"],
        }
        response = SimpleNamespace(status="404 Not Found", sent=10, headers=[])
        log.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=3))
    output = out.getvalue()
    assert output.count("\n") == 3
    _assert_clean(output)
    assert "%EF%BC%91" not in output
    assert "[個人番号]" in output


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /staff/counter/?q=123456789018 HTTP/1.1", "GET /staff/counter/?q=[個人番号] HTTP/1.1"),
        ("GET /?q=1234+5678+9018", "GET /?q=[個人番号]"),
        ("電話 048-775-5111、番号 1234567890180", "電話 048-775-5111、番号 1234567890180"),  # not a 個人番号
        # gunicorn's access line: only the encoded URL is decoded; its timestamp's "+0900" stays as written.
        (
            '127.0.0.1 - - [06/Dec/2026:18:54:34 +0900] "GET /?q=1234%205678%209018 HTTP/1.1" 200',
            '127.0.0.1 - - [06/Dec/2026:18:54:34 +0900] "GET /?q=[個人番号] HTTP/1.1" 200',
        ),
    ],
)
def test_mask_for_log(line: str, expected: str) -> None:
    assert mask_for_log(line) == expected


def test_json_lines_stay_json(written: io.StringIO) -> None:
    logging.getLogger("apps.example").warning("x %s", NUMBER)
    for line in written.getvalue().splitlines():
        if line.startswith("{"):
            assert json.loads(line)["message"] == "x [個人番号]"
