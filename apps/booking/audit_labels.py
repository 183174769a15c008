"""How the audit log names booking's actions (registered with security's ACTION_LABELS from apps.py)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

LABELS: dict[str, Any] = {
    "booking.settings_changed": _("予約の設定の変更"),
    "booking.counter_saved": _("窓口の保存"),
    "booking.purpose_saved": _("用件の保存"),
    "booking.hours_added": _("受付時間の追加"),
    "booking.hours_removed": _("受付時間の削除"),
    "booking.calendar_day_added": _("休み・特別開庁の追加"),
    "booking.calendar_day_removed": _("休み・特別開庁の削除"),
    "booking.announcement_created": _("お知らせの作成"),
    "booking.announcement_deleted": _("お知らせの削除"),
    "booking.email_text_saved": _("メール文面の保存"),
    "booking.email_text_reset": _("メール文面を標準に戻す"),
    "booking.slot_blocked": _("枠の受付停止・再開"),
    "booking.slot_seats_raised": _("枠の席数の追加"),
    "booking.reservation_moved": _("予約の移動"),
    "booking.reservation_arrived": _("来庁の記録"),
    "booking.reservation_done": _("完了の記録"),
    "booking.reservation_no_show": _("不来庁の記録"),
    "booking.reservation_cancelled": _("予約の取消"),
    "booking.reservation_phone": _("電話予約の受付"),
    "booking.reservation_walk_in": _("当日受付"),
}
