"""The vendor's host (public schema): the console and the vendor's own accounts."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import include, path, reverse

from madoguchi import views

admin.site.site_header = "Madoguchi vendor console"
admin.site.site_title = "Madoguchi"


def _admin_signed_in(request: HttpRequest, extra_context: object = None) -> HttpResponse:
    if not request.user.is_superuser:  # vendor staff without it use the console (/console/), not Django admin
        raise PermissionDenied
    return HttpResponseRedirect(reverse("admin:index"))


def _superuser_only(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


# One login path for everyone: the console's login is allauth's (password, lockout, second factor), at
# /accounts/login/ on this host (madoguchi.urls_common). secure_admin_login sends a visitor who is not signed in
# there with ?next=, and refuses a signed-in user who is not a superuser. Django admin's own password form is
# never shown nor processed, even to a signed-in vendor (a POST to it would sign in as anyone with a password).
# Django admin is for superusers only, at /console/admin/; the vendor's operators work in the console (/console/).
admin.site.login = secure_admin_login(_admin_signed_in)  # type: ignore[method-assign]
admin.site.has_permission = _superuser_only  # type: ignore[method-assign]

urlpatterns = [
    path("", views.vendor_home, name="home"),
    path("console/admin/", admin.site.urls),
    path("console/", include("console.urls")),
    path("staff/audit/", include("apps.security.urls_audit")),
    path("", include("madoguchi.urls_common")),
]

# An unhandled exception: the database away is a 503 with Retry-After, anything else the 500 page.
handler500 = "madoguchi.middleware.server_error"
