"""The counter pages' forms for tests/security/ (see targets.py: FormTarget).

Only the search is listed: the checklist lives at a card's own address (`/staff/counter/card/<pk>/`) and the
attack modules' database holds no card, so a target there would meet a 404 and attack nothing.
apps/issuance/counter/tests/test_counter_checklist.py posts markup and a 個人番号 into a real card's checklist instead.
"""

from tests.security.targets import FormTarget

FORMS: list[FormTarget] = [
    FormTarget(
        "counter search",
        "/staff/counter/",
        {
            "q": "A1B-123456",
            "birth_date_0": "heisei",
            "birth_date_1": "2",
            "birth_date_2": "2",
            "birth_date_3": "3",
        },
        ("q", "birth_date_1", "birth_date_2", "birth_date_3"),
        hosts=("city",),
        signed_in=True,
    ),
]
