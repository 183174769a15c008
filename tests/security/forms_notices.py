"""The notices pages' forms for tests/security/ (see targets.py: FormTarget).

One card's PDF (`card/<int:pk>.pdf`, a GET with ?variant=&kind=) is no form: the route walk reaches it."""

from tests.security.targets import FormTarget

FORMS: list[FormTarget] = [
    FormTarget(
        "notice print",
        "/staff/cards/notices/",
        {"batch": "", "state": "set_up", "variant": "letter", "kind": "notice", "action": "preview"},
        ("batch", "state", "variant", "kind", "action"),
        hosts=("city",),
        signed_in=True,
        role="supervisor",
    ),
]
