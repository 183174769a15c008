"""factory-boy factories. Create tenant data inside `schema_context(city.schema_name)`."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Group

from apps.security.models import Role, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.jp")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def role(self, create: bool, extracted: Role | None, **kwargs: object) -> None:
        if create and extracted is not None:
            self.groups.add(Group.objects.get(name=extracted.value))


def staff_user(**kwargs: object) -> User:
    return UserFactory(role=Role.STAFF, **kwargs)  # type: ignore[return-value]


def supervisor_user(**kwargs: object) -> User:
    return UserFactory(role=Role.SUPERVISOR, **kwargs)  # type: ignore[return-value]
