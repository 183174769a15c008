"""The cards pages' forms for tests/security/ (see targets.py: FormTarget)."""

from tests.security.targets import FormTarget

# The card page's transition forms need a card, which the attack modules do not create: their refusals (state,
# missing fields, 個人番号, permissions, another city) are tested in apps/issuance/cards/tests/test_cards_pages.py.
FORMS: list[FormTarget] = [
    FormTarget(
        "card list filter",
        "/staff/cards/",
        {
            "q": "あげお",
            "state": "notice_mailed",
            "batch": "",
            "delivered_from": "2026-10-01",
            "delivered_to": "2026-10-31",
            "express": "",
        },
        ("q", "delivered_from", "delivered_to"),
        hosts=("city",),
        signed_in=True,
    ),
    FormTarget(
        "bulk card transition",
        "/staff/cards/bulk/",
        {
            "q": "あげお",
            "action": "cancel",
            "scope": "filter",
            "cancel_reason": "other",
            "reason": "転出のため",
        },
        ("q", "reason"),
        hosts=("city",),
        signed_in=True,
        role="supervisor",
        shown_at="/staff/cards/",
    ),
    FormTarget(
        "issuance settings",
        "/staff/cards/settings/",
        {"reminder_after_weeks": "8", "retention_months": "6", "upload_keep_days": "7"},
        ("reminder_after_weeks", "retention_months", "upload_keep_days"),
        hosts=("city",),
        signed_in=True,
        role="supervisor",
    ),
    FormTarget(
        "identity document",
        "/staff/cards/settings/documents/add/",
        {
            "kind": "a",
            "name_ja": "マイナ免許証",
            "name_en": "Licence on the card",
            "order": "3",
            "active": "on",
        },
        ("name_ja", "name_en", "order"),
        hosts=("city",),
        signed_in=True,
        role="supervisor",
    ),
    FormTarget(
        "proxy reason",
        "/staff/cards/settings/reasons/add/",
        {"name_ja": "海外在住", "name_en": "Living abroad", "order": "9", "active": "on"},
        ("name_ja", "name_en", "order"),
        hosts=("city",),
        signed_in=True,
        role="supervisor",
    ),
]
