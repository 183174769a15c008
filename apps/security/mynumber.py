"""Never the 個人番号 in what a client sends: the Django validator, form mixin and DRF serializer mixin.

The rule itself (what counts as a 個人番号 in a text, and masking one) is `base.mynumber`, pure functions that the
logging filter and the CSV reader use too. This module applies it to forms, model fields and API payloads, with
the message a resident or a member of staff reads (docs/security.md, "Never the 個人番号").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files import File
from django.utils.translation import gettext_lazy as _

from base.mynumber import contains_individual_number

MESSAGE = _("個人番号（マイナンバー）は入力しないでください。この欄には入力できません。")
FILE_NAME_MESSAGE = _(
    "ファイル名に個人番号（マイナンバー）が含まれています。個人番号を含まない名前に変えてから選び直してください。"
)
CODE = "individual_number"


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, File):
        # An uploaded file's name is text the client chose: "123456789018.csv" would otherwise be stored and
        # listed (the content is the reading code's business: csv imports check every cell).
        yield value.name or ""
    elif isinstance(value, int) and not isinstance(value, bool):
        yield str(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _strings(item)


def has_individual_number(value: object) -> bool:
    """True when `value` (a string, a number, or a list or mapping of them at any depth) holds a 個人番号."""
    return any(contains_individual_number(text) for text in _strings(value))


def validate_no_individual_number(value: object) -> None:
    """Django validator (models, forms, DRF fields): refuse a value that holds a 個人番号."""
    if isinstance(value, File) and contains_individual_number(value.name or ""):
        raise ValidationError(FILE_NAME_MESSAGE, code=CODE)
    if has_individual_number(value):
        raise ValidationError(MESSAGE, code=CODE)


class RefusesIndividualNumber(forms.Form):
    """Form mixin: every field of the form refuses a 個人番号, passwords included.

    The check is a validator added to each field when the form is made, so it runs in the field's own clean,
    before the form's `clean_<field>` and `clean()`: a number typed into a login name never reaches
    authentication, lockout counters or user look-ups (which would log or store it). The error is the field's
    own, so the form re-renders with the input kept (password widgets never re-render their value).

    Put it first: `class LoginForm(RefusesIndividualNumber, allauth.account.forms.LoginForm)`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if validate_no_individual_number not in field.validators:
                field.validators.append(validate_no_individual_number)


def fields_with_individual_number(data: Mapping[str, object]) -> list[str]:
    """The keys of `data` whose value holds a 個人番号: for API payloads and imported rows (one cell per key)."""
    return [key for key, value in data.items() if has_individual_number(value)]


class RefusesIndividualNumberSerializer:
    """DRF serializer mixin: refuse a payload whose fields hold a 個人番号, before any field is parsed.

    `class BookingSerializer(RefusesIndividualNumberSerializer, serializers.Serializer)`. The error names each
    field, as DRF's own field errors do (400 with {"field": ["message"]}). For a single field,
    `validators=[validate_no_individual_number]` works as well: DRF turns Django's ValidationError into its own.
    """

    def to_internal_value(self, data: Any) -> Any:
        from rest_framework import serializers

        if isinstance(data, Mapping):
            fields = fields_with_individual_number(data)
            if fields:
                raise serializers.ValidationError(
                    {name: [serializers.ErrorDetail(str(MESSAGE), code=CODE)] for name in fields}
                )
        return super().to_internal_value(data)  # type: ignore[misc]
