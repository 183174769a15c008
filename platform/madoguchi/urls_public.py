"""The vendor's host (public schema): the console and the vendor's own accounts."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import include, path, reverse

from madoguchi import views

admin.site.site_header = "Madoguchi vendor console"
admin.site.site_title = "Madoguchi"


def _console_signed_in(request: HttpRequest, extra_context: object = None) -> HttpResponse:
    return HttpResponseRedirect(reverse("admin:index"))


# One login path for everyone: the console's login is allauth's (password, lockout, second factor), at
# /accounts/login/ on this host (madoguchi.urls_common). secure_admin_login sends a visitor who is not signed in
# there with ?next=, and refuses a signed-in user who is not vendor staff. Django admin's own password form is
# never shown nor processed, even to a signed-in vendor (a POST to it would sign in as anyone with a password).
admin.site.login = secure_admin_login(_console_signed_in)  # type: ignore[method-assign]

urlpatterns = [
    path("", views.vendor_home, name="home"),
    path("console/", admin.site.urls),
    path("staff/audit/", include("apps.security.urls_audit")),
    path("", include("madoguchi.urls_common")),
]

# An unhandled exception: the database away is a 503 with Retry-After, anything else the 500 page.
handler500 = "madoguchi.middleware.server_error"
