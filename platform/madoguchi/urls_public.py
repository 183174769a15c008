"""The vendor's host (public schema): the console and the vendor's own accounts."""

from django.contrib import admin
from django.urls import include, path

from apps.security.forms import ConsoleLoginForm
from madoguchi import views

admin.site.site_header = "Madoguchi vendor console"
admin.site.login_form = ConsoleLoginForm  # refuses a 個人番号 like every other form
admin.site.site_title = "Madoguchi"

urlpatterns = [
    path("", views.vendor_home, name="home"),
    path("console/", admin.site.urls),
    path("staff/audit/", include("apps.security.urls_audit")),
    path("", include("madoguchi.urls_common")),
]
