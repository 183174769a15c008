"""Availability samples and incidents, in the public schema (docs/console.md, "Availability and incidents").

A `ProbeSample` is one minute of one module for every city at once: the ids of the cities found down and of those in
approved maintenance, and how many cities were probed. Up is everything else, so a month of 1,741 cities is
3 × 44,640 short rows, not 233 million. A minute without a row counts as down for every city (the probe did not run,
so nobody can say the service was up).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from console.maintenance.models import MODULES, Module


class ProbeSample(models.Model):
    minute = models.DateTimeField()  # the minute probed, seconds zeroed
    module = models.CharField(max_length=16, choices=Module.choices)
    probed = models.PositiveIntegerField()
    down = ArrayField(models.IntegerField(), default=list, blank=True)  # Municipality ids
    maintenance = ArrayField(models.IntegerField(), default=list, blank=True)  # Municipality ids
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["module", "minute"], name="probe_sample_once_a_minute")
        ]

    def __str__(self) -> str:
        return f"{self.module} {self.minute:%Y-%m-%d %H:%M} down={len(self.down)}"


class Incident(models.Model):
    class Channel(models.TextChoices):
        MONITORING = "monitoring", _("監視")
        PHONE = "phone", _("電話")
        MAIL = "mail", _("メール")
        CITY = "city", _("自治体からの連絡")
        STAFF = "staff", _("運営者が発見")
        OTHER = "other", _("その他")

    class Severity(models.TextChoices):
        # Ordered from the worst; the letters keep that order in the database.
        CRITICAL = "s1", _("重大（サービス停止）")
        MAJOR = "s2", _("高（一部の機能が使えない）")
        MINOR = "s3", _("中（遅延・一部の不具合）")
        LOW = "s4", _("低（影響なし・軽微）")

    class Status(models.TextChoices):
        OPEN = "open", _("対応中")
        MONITORING = "monitoring", _("経過観察")
        RESOLVED = "resolved", _("解決")

    title = models.CharField(_("件名"), max_length=200)
    received_at = models.DateTimeField(pgettext_lazy("incident", "受付日時"))
    received_via = models.CharField(_("受付方法"), max_length=16, choices=Channel.choices)
    severity = models.CharField(_("重大度"), max_length=2, choices=Severity.choices)
    status = models.CharField(_("状態"), max_length=16, choices=Status.choices, default=Status.OPEN)
    municipalities = models.ManyToManyField(
        "tenants.Municipality", related_name="incidents", verbose_name=_("影響を受けた自治体")
    )
    modules = ArrayField(
        models.CharField(max_length=16, choices=Module.choices), verbose_name=_("影響を受けた機能")
    )
    cause = models.TextField(_("原因"), blank=True)
    resolution = models.TextField(_("対処・再発防止"), blank=True)
    resolved_at = models.DateTimeField(_("解決日時"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("記録者"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("障害")
        verbose_name_plural = _("障害")
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("received_at")),
                name="incident_resolved_after_received",
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False),
                name="incident_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=Q(modules__len__gt=0) & Q(modules__contained_by=MODULES),
                name="incident_known_modules",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def module_labels(self) -> list[str]:
        return [str(Module(m).label) for m in self.modules]


class IncidentEntry(models.Model):
    """One line of an incident's timeline: what happened or was done at `at` (visible to the affected cities)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="entries")
    at = models.DateTimeField(_("日時"))
    text = models.TextField(_("内容"))
    author_name = models.CharField(_("記録者"), max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.text[:40]}"
