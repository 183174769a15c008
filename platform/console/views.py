"""The console's home (what needs attention) and the vendor users' roles (admins only)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from console.access import VendorRole, role_allows, vendor_view
from console.cities.selectors import status_counts, suspended_cities
from console.forms import VendorRoleForm
from console.vendor_users import vendor_role_set, vendor_user_list


@vendor_view(VendorRole.SUPPORT)
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    context = {
        "status_counts": status_counts(request.actor),  # type: ignore[attr-defined]
        "suspended": suspended_cities(request.actor),  # type: ignore[attr-defined]
        "can_create": role_allows(request.vendor_role, VendorRole.OPERATOR),  # type: ignore[attr-defined]
    }
    return render(request, "console/home.html", context)


@vendor_view(VendorRole.ADMIN)
@require_http_methods(["GET", "HEAD", "POST"])
def vendor_users(request: HttpRequest) -> HttpResponseBase:
    actor = request.actor  # type: ignore[attr-defined]
    form = VendorRoleForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                user = vendor_role_set(actor, user_id=form.cleaned_data["user"], role=form.chosen_role())
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request, _("%(name)s の役割を変更しました。") % {"name": user.get_username()}
                )
                return redirect("console:vendor_users")
        status = 400
    users = vendor_user_list(actor)
    return render(
        request,
        "console/vendor_users.html",
        {"users": users, "form": form, "role_choices": VendorRole.choices},
        status=status,
    )
