from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from apps.security.models import Role, User


def roles_ensure() -> None:
    """Create the city's role groups in the current schema. Idempotent."""
    for role in Role:
        Group.objects.get_or_create(name=role.value)


def staff_user_ensure(
    *, username: str, email: str, password: str, role: Role, display_name: str = ""
) -> User:
    """Create or reset a staff account in the current schema with exactly one role (used by demo data)."""
    with transaction.atomic():
        user, _created = User.objects.get_or_create(username=username, defaults={"email": email})
        user.email = email
        user.display_name = display_name
        user.is_active = True
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=role.value)])
    return user
