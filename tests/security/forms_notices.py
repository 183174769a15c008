"""The notices pages' forms for tests/security/ (see targets.py: FormTarget)."""

from tests.security.targets import FormTarget

FORMS: list[FormTarget] = []
