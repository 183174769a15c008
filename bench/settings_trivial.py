"""The generator's ceiling (bench/wrk_pages.py): a bare Django app with two middleware and one view returning "ok".

No database, no tenant routing, no session: what gunicorn's sync workers and Django's request cycle cost at the
least. Every HTTP figure of the `http` part is a ratio to this view, measured through the same wrk settings in the
same run; a page faster than half of it is flagged client-bound (the generator, not the page, is then the bound).
This module is both the settings and the URLconf.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

DEBUG = False
SECRET_KEY = "bench-trivial-not-secret"  # noqa: S105 (a benchmark's throw-away server on 127.0.0.1)
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "bench.settings_trivial"
USE_TZ = True
LOGGING_CONFIG = None


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("", trivial), path("healthz", trivial), path("bench/trivial/", trivial)]
