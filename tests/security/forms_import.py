"""The import pages' forms for tests/security/ (see targets.py: FormTarget).

The upload form is a multipart file upload with no field a person types into (a file and a select), which a
FormTarget cannot carry; its file handling is tested in apps/issuance/imports/tests/test_import_flow.py (bad, binary, too
big, wrong headers, 個人番号 cells). The column mapping form is all typed text: every field gets the payloads.
"""

from tests.security.targets import FormTarget

_MAPPING_FIELDS = (
    "notice_number",
    "name",
    "kana",
    "birth_date",
    "postal_code",
    "address",
    "delivery_batch",
    "delivery_date",
    "application_kind",
    "express",
)
_HEADERS = (
    "交付通知書番号",
    "氏名",
    "ふりがな",
    "生年月日",
    "郵便番号",
    "住所",
    "納品回",
    "納品日",
    "申請種別",
    "特急",
)

FORMS: list[FormTarget] = [
    FormTarget(
        "card import column mapping",
        "/staff/cards/import/mappings/add/",
        {
            "name": "住基システムの出力",
            **{f"col_{key}": header for key, header in zip(_MAPPING_FIELDS, _HEADERS, strict=True)},
        },
        ("name", *(f"col_{key}" for key in _MAPPING_FIELDS)),
        hosts=("city",),
        signed_in=True,
        role="supervisor",
    ),
]
