"""Supervisor pages for what a city publishes: announcements and its own email texts. Thin: form, service, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.booking.content import services as services_content
from apps.booking.content.forms import AnnouncementForm, EmailTextForm
from apps.booking.content.selectors import announcements_all, email_text_get, email_texts
from apps.booking.models_content import Announcement, EmailText
from apps.booking.reservations.mail_texts import PLACEHOLDERS, render_text
from apps.booking.staff.pages import form_errors, form_page
from apps.security.actors import Actor
from apps.security.request_actor import request_actor
from apps.security.roles import CONFIGURE_BOOKING, require_permission

# What the preview fills the placeholders with (the reservation does not exist yet).
SAMPLE_VALUES = {
    "ja": {
        "code": "AB12CD34",
        "date": "2026年1月5日（月）",
        "time": "09:00–09:30",
        "purpose": "申請サポート",
        "counter": "市民課窓口",
        "location": "本庁舎1階",
        "bring": "本人確認書類",
        "phone": "048-000-0000",
        "city": "上尾市",
        "manage_url": "https://example.localhost/book/manage/…/",
    },
    "en": {
        "code": "AB12CD34",
        "date": "Mon 05/01/2026",
        "time": "09:00–09:30",
        "purpose": "Application support",
        "counter": "Citizens' counter",
        "location": "City hall, 1F",
        "bring": "Photo ID",
        "phone": "048-000-0000",
        "city": "Ageo",
        "manage_url": "https://example.localhost/book/manage/…/",
    },
}


# Announcements


@require_permission(CONFIGURE_BOOKING)
def announcements(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = [(a, a.is_shown_at(now)) for a in announcements_all()]
    return render(request, "booking/staff/announcements.html", {"announcements": rows})


@require_permission(CONFIGURE_BOOKING)
def announcement_edit(request: HttpRequest, announcement_id: int | None = None) -> HttpResponse:
    announcement = get_object_or_404(Announcement, pk=announcement_id) if announcement_id else None
    initial = {} if announcement else {"starts_at": timezone.localtime().replace(second=0, microsecond=0)}
    form = AnnouncementForm(request.POST or None, instance=announcement, initial=initial)

    def save(actor: Actor) -> Announcement:
        values = form.cleaned_data
        return services_content.announcement_save(announcement_id=announcement_id, values=values, actor=actor)

    return form_page(
        request,
        form,
        save,
        saved=_("お知らせを保存しました。"),
        then="booking_staff:announcements",
        template="booking/staff/announcement_form.html",
        context={"announcement": announcement},
    )


@require_permission(CONFIGURE_BOOKING)
@require_POST
def announcement_delete(request: HttpRequest, announcement_id: int) -> HttpResponse:
    announcement = get_object_or_404(Announcement, pk=announcement_id)
    services_content.announcement_delete(announcement_id=announcement.pk, actor=request_actor(request))
    messages.success(request, _("お知らせを削除しました。"))
    return redirect("booking_staff:announcements")


# Email texts


def _kind_language(kind: str, language: str) -> tuple[str, str]:
    if kind not in EmailText.Kind.values or language not in EmailText.Language.values:
        raise Http404
    return kind, language


@require_permission(CONFIGURE_BOOKING)
def email_text_list(request: HttpRequest) -> HttpResponse:
    own = email_texts()
    rows = [
        {
            "kind": kind,
            "kind_label": kind_label,
            "languages": [
                {"code": code, "label": label, "custom": (kind, code) in own}
                for code, label in EmailText.Language.choices
            ],
        }
        for kind, kind_label in EmailText.Kind.choices
    ]
    return render(request, "booking/staff/email_texts.html", {"rows": rows})


@require_permission(CONFIGURE_BOOKING)
def email_text_edit(request: HttpRequest, kind: str, language: str) -> HttpResponse:
    kind, language = _kind_language(kind, language)
    current = email_text_get(kind, language)
    form = EmailTextForm(request.POST or None, instance=current)
    preview = None
    status = 200
    if request.method == "POST":
        if form.is_valid() and request.POST.get("action") == "preview":
            values = SAMPLE_VALUES[language]
            preview = {
                "subject": render_text(form.cleaned_data["subject"], values),
                "body": render_text(form.cleaned_data["body"], values),
            }
        elif form.is_valid():
            try:
                services_content.email_text_save(
                    kind=kind,
                    language=language,
                    subject=form.cleaned_data["subject"],
                    body=form.cleaned_data["body"],
                    actor=request_actor(request),
                )
            except ValidationError as exc:
                form_errors(form, exc)
                status = 400
            else:
                messages.success(request, _("メール文面を保存しました。"))
                return redirect("booking_staff:email_texts")
        else:
            status = 400
    context = {
        "form": form,
        "kind_label": EmailText.Kind(kind).label,
        "language_label": EmailText.Language(language).label,
        "kind": kind,
        "language": language,
        "custom": current is not None,
        "preview": preview,
        "placeholders": [(name, label) for name, label in PLACEHOLDERS.items()],
    }
    return render(request, "booking/staff/email_text_form.html", context, status=status)


@require_permission(CONFIGURE_BOOKING)
@require_POST
def email_text_reset(request: HttpRequest, kind: str, language: str) -> HttpResponse:
    kind, language = _kind_language(kind, language)
    if services_content.email_text_reset(kind=kind, language=language, actor=request_actor(request)):
        messages.success(request, _("標準の文面に戻しました。"))
    return redirect("booking_staff:email_texts")
