"""The vendor console's admin classes of this app, and the rule that every console form refuses a 個人番号.

`refuse_individual_number_in(admin.site)` runs when this module is imported (admin autodiscovery imports it at
startup): every ModelAdmin already registered gets forms that refuse the number in every field, and the site's
`register` is wrapped so a ModelAdmin registered later (by an app after this one, or a new one) gets them too.
The forms are wrapped where the ModelAdmin hands them out (`get_form`, `get_changelist_form`, each inline's
`get_formset`, the action form, the password form), so a ModelAdmin that chooses its forms itself is covered. A
change-list search (`?q=`) for the number never gets here: an address holding one is refused with a 400 by
`apps.security.middleware.IndividualNumberInAddressMiddleware`.
tests/security/test_attack_individual_number_in_console.py walks the registry and posts the number into each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Model
from django.http import HttpRequest

from apps.security.models import User
from apps.security.mynumber import RefusesIndividualNumber

GUARDED = "_refuses_individual_number"


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    list_display = ("username", "email", "display_name", "is_staff", "is_active", "last_login")
    fieldsets = (*UserAdmin.fieldsets, ("Madoguchi", {"fields": ("display_name",)}))  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Accounts are deactivated (is_active), never deleted: the audit log names them, and on the vendor host
        # Django's delete collector would look for the cities' tables that point at users, which public lacks.
        return False


def refusing(form_class: type) -> type:
    """`form_class` with RefusesIndividualNumber first in its bases (itself when it already refuses)."""
    if issubclass(form_class, RefusesIndividualNumber):
        return form_class
    attrs = {"__module__": form_class.__module__, "__qualname__": form_class.__qualname__}
    metaclass: Any = type(form_class)  # ModelFormMetaclass for a ModelForm: it builds the fields again
    return metaclass(form_class.__name__, (RefusesIndividualNumber, form_class), attrs)


def _refusing_formset(formset: type) -> type:
    form = getattr(formset, "form", None)
    if form is None or issubclass(form, RefusesIndividualNumber):
        return formset
    return type(formset.__name__, (formset,), {"form": refusing(form)})


def _wrap(target: Any, name: str, after: Callable[[Any], Any]) -> None:
    method = getattr(target, name, None)
    if method is None:
        return

    @wraps(method)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return after(method(*args, **kwargs))

    setattr(target, name, wrapped)


def _guard_inlines(inlines: Iterable[Any]) -> list[Any]:
    for inline in inlines:
        guard(inline)
    return list(inlines)


def guard(model_admin: BaseModelAdmin) -> BaseModelAdmin:
    """Make every form `model_admin` hands out refuse a 個人番号 in every field (idempotent)."""
    if getattr(model_admin, GUARDED, False):
        return model_admin
    _wrap(model_admin, "get_form", refusing)
    _wrap(model_admin, "get_changelist_form", refusing)
    _wrap(model_admin, "get_formset", _refusing_formset)  # an inline
    _wrap(model_admin, "get_inline_instances", _guard_inlines)
    for attribute in ("action_form", "change_password_form"):
        form = getattr(model_admin, attribute, None)
        if isinstance(form, type):
            setattr(model_admin, attribute, refusing(form))
    setattr(model_admin, GUARDED, True)
    return model_admin


def refuse_individual_number_in(site: admin.AdminSite) -> None:
    """Guard every ModelAdmin of `site`, now and registered later."""
    for model_admin in site._registry.values():
        guard(model_admin)
    if getattr(site, GUARDED, False):
        return
    register = site.register

    @wraps(register)
    def register_guarded(model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        register(model_or_iterable, admin_class, **options)
        models = [model_or_iterable] if isinstance(model_or_iterable, type) else model_or_iterable
        for model in models:
            if isinstance(model, type) and issubclass(model, Model) and model in site._registry:
                guard(site._registry[model])

    site.register = register_guarded  # type: ignore[method-assign]
    setattr(site, GUARDED, True)


refuse_individual_number_in(admin.site)
