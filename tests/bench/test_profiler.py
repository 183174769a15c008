"""`make profile` (bench/profiler.py): its arguments and its printout, from a tiny fake profile (no database)."""

import pytest

from bench.common import ROOT
from bench.profiler import Profile, Raw, parse_args, printout, top

HANDLER = ("/x/.venv/lib/python3.11/site-packages/django/core/handlers/base.py", 140, "get_response")
ROUTING = (f"{ROOT}/tenants/middleware.py", 18, "process_request")  # the checkout, wherever it is
SQL = ("/x/site-packages/django/db/backends/utils.py", 100, "_execute")
RENDER = ("/x/site-packages/django/template/backends/django.py", 57, "render")
VIEW = (f"{ROOT}/apps/booking/resident/views.py", 40, "calendar")
BUILTIN = ("~", 0, "<method 'execute' of 'psycopg.Cursor' objects>")

# (primitive calls, calls, own s, cumulative s, callers): 10 requests, 1.0 s in all.
RAW: Raw = {
    HANDLER: (10, 10, 0.05, 1.0, {}),
    ROUTING: (10, 10, 0.02, 0.30, {}),
    SQL: (30, 30, 0.03, 0.40, {}),
    RENDER: (10, 10, 0.01, 0.20, {}),
    VIEW: (10, 10, 0.10, 0.50, {}),
    BUILTIN: (30, 30, 0.35, 0.35, {}),
}


def fake_profile() -> Profile:
    return Profile("/book/pickup/", "ageo.localhost", 10, 1.5, {200: 10}, 3.0, RAW)


def test_arguments() -> None:
    args = parse_args(["--page", "/book/", "-n", "50"])
    assert (args.page, args.requests, args.host, args.top) == ("/book/", 50, "ageo.localhost", 25)
    assert parse_args([]).page == "/book/pickup/"
    with pytest.raises(SystemExit):
        parse_args(["--page", "book/"])
    with pytest.raises(SystemExit):
        parse_args(["-n", "0"])


def test_shares_of_the_request() -> None:
    profile = fake_profile()
    assert profile.total == 1.0  # the handler's cumulative time
    assert profile.share(("tenants/middleware.py", "process_request")) == pytest.approx(0.30)


def test_printout_tables() -> None:
    text = "\n".join(printout(fake_profile(), limit=3))
    assert (
        "/book/pickup/ on ageo.localhost: 10 requests in 1.50 s (150.00 ms each, profiled), statuses 200 ×10"
        in text
    )
    assert "SQL queries per request: 3" in text
    assert "| tenant routing (`MunicipalityMiddleware.process_request`) | 30% | 30.00 |" in text
    assert "| SQL (`CursorWrapper._execute`) | 40% | 40.00 |" in text
    assert "| the request in all (`BaseHandler.get_response`) | 100% | 100.00 |" in text
    # By cumulative: handler, view, SQL; by own time: the built-in first, paths shortened.
    cumulative = text.split("by cumulative")[1].split("by own")[0]
    assert cumulative.index("django/core/handlers/base.py:140 get_response") < cumulative.index(
        "apps/booking/resident/views.py:40 calendar"
    )
    assert "tenants/middleware.py" not in cumulative  # 4th by cumulative, limit 3
    own = text.split("by own time")[1]
    assert own.splitlines()[4] == "| 30 | 0.350 | 0.350 | `<method 'execute' of 'psycopg.Cursor' objects>` |"


def test_top_skips_and_recursion() -> None:
    raw: Raw = {VIEW: (2, 5, 0.1, 0.2, {}), HANDLER: (1, 1, 0.0, 1.0, {})}
    rows = top(raw, by="cumulative", limit=5, skip=lambda key, cum: cum >= 0.9)
    assert rows == [["5/2", "0.100", "0.200", "`apps/booking/resident/views.py:40 calendar`"]]
