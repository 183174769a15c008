"""Test URLconfs: the city's and the vendor's, with the audit pages at staff/audit/ and a few write views.

Until the lead includes apps.security.urls_audit in madoguchi's URLconfs, these stand in for them.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from apps.security.audit import audit_record
from apps.security.request_actor import request_actor
from madoguchi.urls_tenant import urlpatterns as tenant_patterns


@csrf_exempt
def plain_write(request: HttpRequest) -> HttpResponse:
    return HttpResponse("saved")


@csrf_exempt
def audited_write(request: HttpRequest) -> HttpResponse:
    audit_record(action="policy.changed", actor=request_actor(request), target="SecurityPolicy:1")
    return HttpResponse("saved")


@csrf_exempt
def refused_write(request: HttpRequest) -> HttpResponse:
    return HttpResponse("bad input", status=400)


_test_patterns = [
    path("staff/audit/", include("apps.security.urls_audit")),
    path("staff/test/plain-write/", plain_write, name="test_plain_write"),
    path("staff/test/audited-write/", audited_write, name="test_audited_write"),
    path("staff/test/refused-write/", refused_write, name="test_refused_write"),
]

urlpatterns = [*_test_patterns, *tenant_patterns]
