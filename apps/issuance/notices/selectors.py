"""Reads for the notice pages: the delivery batches to choose from and the print log."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from apps.issuance.models import Card, NoticePrint


def delivery_batches() -> list[tuple[str, int]]:
    """Each delivery batch with its number of cards, newest first."""
    rows = (
        Card.objects.exclude(delivery_batch="")
        .values_list("delivery_batch")
        .annotate(count=Count("id"))
        .order_by("-delivery_batch")
    )
    return [(batch, count) for batch, count in rows]


def print_log() -> QuerySet[NoticePrint]:
    return NoticePrint.objects.select_related("by").order_by("-at", "-pk")
