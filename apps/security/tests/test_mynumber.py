"""The 個人番号 rule: valid numbers are refused as whole tokens, and nothing else is."""

from __future__ import annotations

import random

import pytest
from django import forms
from django.core.exceptions import ValidationError
from rest_framework import serializers

from apps.security.mynumber import (
    RefusesIndividualNumber,
    RefusesIndividualNumberSerializer,
    fields_with_individual_number,
    validate_no_individual_number,
)
from base.mynumber import (
    check_digit,
    contains_individual_number,
    individual_numbers_in,
    is_individual_number,
    mask_individual_numbers,
)

MESSAGE = "個人番号（マイナンバー）は入力しないでください。この欄には入力できません。"

# Written from the rule in DOMAIN.md independently of the code under test: the weights of the first 11 digits
# read left to right (Q(n) for n = 11..1), and the remainder mapped to the check digit.
WEIGHTS_LEFT_TO_RIGHT = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def reference_check_digit(first_eleven: str) -> int:
    remainder = sum(int(d) * w for d, w in zip(first_eleven, WEIGHTS_LEFT_TO_RIGHT, strict=True)) % 11
    return {0: 0, 1: 0}.get(remainder, 11 - remainder)


def reference_valid(candidate: str) -> bool:
    return (
        len(candidate) == 12
        and candidate.isdigit()
        and reference_check_digit(candidate[:11]) == int(candidate[11])
    )


def make_number(rng: random.Random) -> str:
    first = "".join(rng.choice("0123456789") for _ in range(11))
    return first + str(reference_check_digit(first))


# Computed by hand from the rule: 1·6+2·5+3·4+4·3+5·2+6·7+7·6+8·5+9·4+0·3+1·2 = 212, 212 mod 11 = 3, 11-3 = 8.
KNOWN_VALID = ["123456789018", "111111111118", "999999999996", "000000000000"]
VALID = KNOWN_VALID[0]


@pytest.mark.parametrize("number", KNOWN_VALID)
def test_known_valid_numbers(number: str) -> None:
    assert is_individual_number(number)
    assert check_digit(number[:11]) == int(number[11])


@pytest.mark.parametrize("last", [d for d in "0123456789" if d != "8"])
def test_every_other_last_digit_is_invalid(last: str) -> None:
    assert not is_individual_number(VALID[:11] + last)
    assert not contains_individual_number(VALID[:11] + last)


@pytest.mark.parametrize(
    "token", ["", "12345678901", "1234567890180", "12345678901a", "１２３４５６７８９０１８", " 123456789018"]
)
def test_is_individual_number_takes_exactly_twelve_ascii_digits(token: str) -> None:
    # The token function is strict; folding and cutting are contains_individual_number's job.
    assert not is_individual_number(token)


def test_check_digit_refuses_anything_but_eleven_digits() -> None:
    with pytest.raises(ValueError, match="11"):
        check_digit("1234567890")


def test_the_code_agrees_with_the_independent_reference_on_random_strings() -> None:
    rng = random.Random(20241001)  # noqa: S311 (seeded for reproducible test data, not secrets)
    for _ in range(3000):
        candidate = "".join(rng.choice("0123456789") for _ in range(12))
        assert is_individual_number(candidate) == reference_valid(candidate), candidate
        assert contains_individual_number(candidate) == reference_valid(candidate), candidate


def test_every_generated_number_is_refused_and_its_nine_neighbours_are_not() -> None:
    rng = random.Random(112194)  # noqa: S311 (seeded for reproducible test data, not secrets)
    for _ in range(500):
        number = make_number(rng)
        passing = [d for d in "0123456789" if is_individual_number(number[:11] + d)]
        assert passing == [number[11]], number


@pytest.mark.parametrize(
    "text",
    [
        "123456789018",
        "１２３４５６７８９０１８",  # full-width digits
        "1234 5678 9018",
        "1234-5678-9018",
        "１２３４－５６７８－９０１８",  # full-width hyphens
        "１２３４　５６７８　９０１８",  # ideographic spaces
        "1234ー5678ー9018",  # the long-vowel mark that IMEs type between digits
        "1234−5678−9018",  # minus sign
        "1234 - 5678 - 9018",
        "1234  5678  9018",
        "123 456 789 018",
        "マイナンバーは123456789018です",
        "番号:1234-5678-9018。よろしく",
        "受付 10 123456789018",  # a spaced neighbour does not hide it
        "12:00 1234-5678-9018",
        "1234-5678-9018 3",  # hyphen-grouped, then another figure
        "電話 048-775-5111\n個人番号 123456789018",
        "123456789018@example.jp",
        "١٢٣٤٥٦٧٨٩٠١٨",  # Arabic-Indic digits
    ],
)
def test_refused(text: str) -> None:
    assert contains_individual_number(text)
    assert individual_numbers_in(text) == [VALID]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "上尾市本町3-1-1",
        "電話 048-775-5111",  # 10 digits
        "090-1234-5678",
        "〒362-8501",
        "A1B-123456",  # a notice number
        "2024-10-01 10:00",
        "1234567890180",  # 13 digits containing a valid number
        "0123456789018",
        "1234567890189999",
        "9123456789018",
        "123456789018123456789018",  # two valid numbers glued: one 24-digit token
        "1234 5678 9018 3",  # space-grouped 13 digits
        "1234 5678 9018 1234",
        "1234--5678-9018",  # a double hyphen is not grouping
        "1234\n5678\n9018",  # separate lines are separate values
        "1234\t5678\t9018",  # separate cells
        "1234    5678 9018",  # column layout
        "123456789012",  # 12 digits, wrong check digit
        "1234-5678-9012",
    ],
)
def test_allowed(text: str) -> None:
    assert not contains_individual_number(text)


def test_several_numbers_are_all_found() -> None:
    assert individual_numbers_in("123456789018 と 111111111118") == ["123456789018", "111111111118"]


def test_validator_refuses_with_the_code_and_a_japanese_message() -> None:
    with pytest.raises(ValidationError) as caught:
        validate_no_individual_number("番号 1234 5678 9018")
    assert caught.value.code == "individual_number"
    assert caught.value.messages == [MESSAGE]


@pytest.mark.parametrize("value", [123456789018, ["ok", "123456789018"], {"a": {"b": "1234-5678-9018"}}])
def test_validator_looks_into_numbers_lists_and_mappings(value: object) -> None:
    with pytest.raises(ValidationError):
        validate_no_individual_number(value)


@pytest.mark.parametrize("value", [None, True, 3.5, "048-775-5111", 1234567890180, ["a", 1]])
def test_validator_passes_other_values(value: object) -> None:
    validate_no_individual_number(value)


class NoteForm(RefusesIndividualNumber, forms.Form):
    name = forms.CharField()
    note = forms.CharField(required=False, widget=forms.Textarea)
    secret = forms.CharField(widget=forms.PasswordInput, required=False)
    count = forms.IntegerField(required=False)
    tags = forms.MultipleChoiceField(choices=[("a", "a")], required=False)

    reached: list[str]

    def clean_name(self) -> str:
        self.reached.append("clean_name")
        return str(self.cleaned_data["name"])

    def clean(self) -> dict[str, object]:
        self.reached.append("clean")
        return super().clean() or {}


def _form(**data: object) -> NoteForm:
    form = NoteForm(data={"name": "上尾 太郎", **data})
    form.reached = []
    return form


def test_form_accepts_ordinary_input() -> None:
    form = _form(note="電話 048-775-5111", secret="correct horse", count="3")
    assert form.is_valid(), form.errors
    assert form.reached == ["clean_name", "clean"]


@pytest.mark.parametrize("field", ["name", "note", "secret"])
def test_form_puts_the_error_on_the_field_that_holds_it(field: str) -> None:
    form = _form(**{field: "1234 5678 9018"})
    assert not form.is_valid()
    assert form.errors[field] == [MESSAGE]
    assert form.has_error(field, code="individual_number")
    assert list(form.errors) == [field]


def test_form_checks_numbers_typed_into_number_fields() -> None:
    form = _form(count="123456789018")
    assert not form.is_valid()
    assert form.errors["count"] == [MESSAGE]


def test_form_refuses_before_its_own_field_cleaning_runs() -> None:
    # The number must never reach look-ups or authentication in clean_<field>.
    form = _form(name="123456789018")
    assert not form.is_valid()
    assert "clean_name" not in form.reached


def test_form_re_renders_with_the_input_kept() -> None:
    form = _form(note="メモ 1234-5678-9018")
    assert not form.is_valid()
    html = str(form["note"])
    assert "メモ 1234-5678-9018" in html
    assert MESSAGE in form.as_div()


def test_each_form_instance_checks_once() -> None:
    first, second = _form(), _form()
    assert first.fields["name"].validators.count(validate_no_individual_number) == 1
    assert second.fields["name"].validators.count(validate_no_individual_number) == 1
    assert validate_no_individual_number not in NoteForm.base_fields["name"].validators


class BookingSerializer(RefusesIndividualNumberSerializer, serializers.Serializer):
    name = serializers.CharField()
    note = serializers.CharField(required=False)
    family = serializers.ListField(child=serializers.CharField(), required=False)


def test_serializer_accepts_ordinary_input() -> None:
    serializer = BookingSerializer(data={"name": "上尾 太郎", "note": "048-775-5111"})
    assert serializer.is_valid(), serializer.errors


def test_serializer_names_every_field_that_holds_a_number() -> None:
    serializer = BookingSerializer(
        data={"name": "１２３４５６７８９０１８", "note": "ok", "family": ["上尾 花子", "1234 5678 9018"]}
    )
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"name", "family"}
    assert serializer.errors["name"] == [MESSAGE]
    assert serializer.errors["name"][0].code == "individual_number"


def test_serializer_field_validator() -> None:
    class NoteSerializer(serializers.Serializer):
        note = serializers.CharField(validators=[validate_no_individual_number])

    serializer = NoteSerializer(data={"note": "1234-5678-9018"})
    assert not serializer.is_valid()
    assert serializer.errors["note"] == [MESSAGE]


def test_fields_with_individual_number_for_imported_rows() -> None:
    row = {"notice_number": "A1B-123456", "memo": "123456789018", "phone": "048-775-5111"}
    assert fields_with_individual_number(row) == ["memo"]


# Masking (log lines, audit summaries built from what a client sent) and file names


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("123456789018", "[個人番号]"),
        ("GET /staff/counter/?q=123456789018 HTTP/1.1", "GET /staff/counter/?q=[個人番号] HTTP/1.1"),
        ("番号は１２３４ ５６７８ ９０１８です", "番号は[個人番号]です"),
        ("1234ー5678ー9018.csv", "[個人番号].csv"),
        ("12:00 1234-5678-9012 受付 10 123456789018", "12:00 1234-5678-9012 受付 10 [個人番号]"),
        ("a 123456789018 b 1234-5678-9018", "a [個人番号] b [個人番号]"),
        ("١٢٣٤٥٦٧٨٩٠١٨", "[個人番号]"),
    ],
)
def test_mask_replaces_each_number_and_nothing_else(text: str, masked: str) -> None:
    assert mask_individual_numbers(text) == masked
    assert not contains_individual_number(mask_individual_numbers(text))


@pytest.mark.parametrize(
    "text", ["電話 048-775-5111", "A1B-123456", "1234567890180", "123456789012", "1234 5678 9018 3", ""]
)
def test_mask_leaves_text_without_a_number_alone(text: str) -> None:
    assert mask_individual_numbers(text) == text


def test_a_file_field_refuses_a_file_named_after_a_number() -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    class UploadForm(RefusesIndividualNumber, forms.Form):
        file = forms.FileField()

    named = UploadForm(files={"file": SimpleUploadedFile("1234-5678-9018.csv", b"a,b\n")})
    assert not named.is_valid()
    assert named.has_error("file", "individual_number")
    assert "ファイル名に個人番号" in named.errors["file"][0]
    ordinary = UploadForm(files={"file": SimpleUploadedFile("cards-2026-11.csv", b"a,b\n")})
    assert ordinary.is_valid(), ordinary.errors
