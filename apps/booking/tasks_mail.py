"""Booking mails, sent by the worker in the city's schema (tenant-schemas-celery carries it). Takes ids only."""

from __future__ import annotations

from celery import shared_task

from apps.booking.mail import send_reservation_mail


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
def send_reservation_mail_task(reservation_id: int, kind: str, base_url: str = "") -> bool:
    return send_reservation_mail(reservation_id, kind, base_url)
