"""Issue 10, item 6: the vendor console's forms (maintenance notices shown to every resident, cities, domains, users)
took a 個人番号 with no check.

Now every ModelAdmin on `admin.site` hands out forms that refuse it in every field (apps/security/admin.py applies
the rule to the whole registry, including ModelAdmins registered later). This module walks the registry the way
an attacker would walk the console: each add form (the change form where adding is not offered, with its inlines)
gets the number in every text field, and must come back re-rendered with the refusal on each field, nothing saved.
"""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.auth.models import Group
from django.db import models
from django.test import Client
from django_tenants.utils import schema_context

from apps.security.admin import refuse_individual_number_in
from apps.security.models import User
from apps.security.mynumber import CODE, RefusesIndividualNumber
from tenants.models import Domain, Municipality
from tests.factories import UserFactory, login_as, with_totp

NUMBER = "123456789018"
TEXT_INPUTS = {"text", "email", "url", "password", "number", "search", "tel"}
REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def vendor(city: Municipality) -> Client:
    """The vendor's superuser on the public host (the city exists so its row can be edited)."""
    with schema_context("public"):
        user: User = UserFactory.create(username="vendor-root", is_staff=True, is_superuser=True)
        with_totp(user)  # staff pages need a second factor
    client = Client(HTTP_HOST="localhost")
    return login_as(client, user, "public")


def _typed(field: forms.Field) -> str:
    return f"{NUMBER}@example.jp" if isinstance(field.widget, forms.EmailInput) else NUMBER


def _text_fields(form: forms.BaseForm) -> dict[str, forms.Field]:
    return {
        name: field
        for name, field in form.fields.items()
        if (
            isinstance(field.widget, forms.Textarea) or getattr(field.widget, "input_type", "") in TEXT_INPUTS
        )
        and not field.disabled
        and not field.widget.is_hidden
    }


def _url(model: type[models.Model], view: str, *args: Any) -> str:
    from django.urls import reverse

    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"
    return reverse(name, args=args, urlconf="madoguchi.urls_public")


def _form_page(client: Client, model: type[models.Model]) -> tuple[str, Any]:
    """The add page, or the change page of an existing row where the console offers no adding."""
    url = _url(model, "add")
    page = client.get(url)
    if page.status_code == 403:
        with schema_context("public"):
            row = model._default_manager.order_by("pk").first()
        assert row is not None, f"{model._meta.label}: no add page and no row to edit"
        url = _url(model, "change", row.pk)
        page = client.get(url)
    assert page.status_code == 200, (model._meta.label, page.status_code)
    return url, page


def _snapshot(model: type[models.Model]) -> list[dict[str, Any]]:
    with schema_context("public"):
        return list(model._default_manager.order_by("pk").values())


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=lambda v: getattr(v, "__name__", ""))
def test_every_console_form_refuses_the_number_in_every_text_field(
    vendor: Client, model: type[models.Model], model_admin: BaseModelAdmin
) -> None:
    url, page = _form_page(vendor, model)
    form = page.context["adminform"].form
    assert isinstance(form, RefusesIndividualNumber), model._meta.label
    fields = _text_fields(form)
    data: dict[str, str] = {form.add_prefix(name): _typed(field) for name, field in fields.items()}
    inline_fields: list[tuple[forms.BaseForm, str]] = []
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(k): str(v) for k, v in management.initial.items()})
        # One new row in each inline, the number in each of its text fields.
        data[management.add_prefix("TOTAL_FORMS")] = str(formset.initial_form_count() + 1)
        for existing in formset.initial_forms:
            for name in existing.fields:
                value = existing[name].value()
                if value is not None and not isinstance(value, list | tuple):
                    data[existing.add_prefix(name)] = str(value)
        empty = formset.empty_form
        for name, field in _text_fields(empty).items():
            key = empty.add_prefix(name).replace("__prefix__", str(formset.initial_form_count()))
            data[key] = _typed(field)
            inline_fields.append((empty, name))
    assert fields or inline_fields, f"{model._meta.label}: no text field found to attack"
    related = [Domain] if model is Municipality else []
    before = [_snapshot(m) for m in (model, *related)]

    response = vendor.post(url, data)

    assert response.status_code == 200, (model._meta.label, response.status_code)  # re-rendered, not saved
    bound = response.context["adminform"].form
    for name, field in fields.items():
        assert name in bound.errors, f"{model._meta.label}.{name} accepted the number"
        if isinstance(field, forms.CharField | forms.IntegerField):
            # Text is refused by the rule itself; a date or a row's id ("raw_id_fields") that the number cannot
            # be is refused by its own parsing first.
            assert bound.has_error(name, CODE), f"{model._meta.label}.{name}: {bound.errors.get(name)}"
    for inline in response.context["inline_admin_formsets"]:
        new_rows = inline.formset.forms[inline.formset.initial_form_count() :]
        for row in new_rows:
            assert isinstance(row, RefusesIndividualNumber)
            for name, field in _text_fields(row).items():
                assert name in row.errors, f"{model._meta.label} inline {name} accepted the number"
                if isinstance(field, forms.CharField | forms.IntegerField):
                    assert row.has_error(name, CODE), f"{model._meta.label} inline {name}: {row.errors}"
    assert [_snapshot(m) for m in (model, *related)] == before
    body = response.content.decode()
    assert "個人番号（マイナンバー）は入力しないでください" in body or "My Number" in body


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=lambda v: getattr(v, "__name__", ""))
def test_every_console_action_form_refuses_the_number(model: type[models.Model], model_admin: Any) -> None:
    assert issubclass(model_admin.action_form, RefusesIndividualNumber), model._meta.label
    password_form = getattr(model_admin, "change_password_form", None)
    if password_form is not None:
        assert issubclass(password_form, RefusesIndividualNumber)


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=lambda v: getattr(v, "__name__", ""))
def test_a_change_list_search_for_the_number_finds_nothing(
    vendor: Client, model: type[models.Model], model_admin: Any
) -> None:
    if not model_admin.search_fields:
        return
    page = vendor.get(_url(model, "changelist"), {"q": NUMBER})
    assert page.status_code == 400  # the address itself is refused before the console searches anything
    body = page.content.decode()
    assert "個人番号を含むアドレスは開けません" in body
    assert NUMBER not in body


def test_a_model_admin_registered_later_is_covered_too(rf: Any) -> None:
    site = admin.AdminSite(name="later")
    refuse_individual_number_in(site)

    class LaterAdmin(admin.ModelAdmin):  # a console page added after the rule was applied
        fields = ("name",)

    site.register(Group, LaterAdmin)
    form_class = site._registry[Group].get_form(rf.get("/console/"))
    assert issubclass(form_class, RefusesIndividualNumber)
    form = form_class(data={"name": f"班 {NUMBER}"})
    assert not form.is_valid()
    assert form.has_error("name", CODE)
