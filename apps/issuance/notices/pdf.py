"""Notice letters (交付通知書) drawn as PDF: an A4 letter for a 長形3号 window envelope, or a postcard.

This module is the letters' layout: what goes where on the page. The primitives it draws with (text placed in
millimetres, Japanese lines wrapped, boxes, the QR code) are drawing.py. Drawing only: no database writes, no
permission checks (`services.notices_print` does those). The measurements are in millimetres from the top-left
corner of the page, as a designer measures them on paper; they are written down in docs/notices.md. Every text is Japanese: the letter goes to residents and the post office.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from reportlab.lib.colors import Color
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from apps.issuance.fonts import fonts
from apps.issuance.notices.drawing import Page
from apps.issuance.shortlinks.links import notice_url
from base.japanese import to_wareki

LETTER = "letter"
POSTCARD = "postcard"
NOTICE = "notice"
REMINDER = "reminder"

TITLE = "マイナンバーカード交付通知書"
A4_SIZE = (210 * mm, 297 * mm)
POSTCARD_SIZE = (100 * mm, 148 * mm)

# The window of a 長形3号 window envelope, on the A4 letter folded in three (Z-fold, top third facing out):
# left, top, width, height in mm. Text stays INSET mm inside it, so a letter that slides a few millimetres in the
# envelope still shows the whole address.
WINDOW = (23.0, 13.0, 90.0, 45.0)
INSET = 4.0
FOLDS = (99.0, 198.0)  # the two folds of A4 in three, from the top
QR_LETTER = 26.0  # mm, the printed side of the QR code (quiet zone included)
QR_POSTCARD = 22.0
POSTAGE_MARK = (0.0, 0.0, 26.0, 26.0)  # postcard: left blank for the stamp or the 料金後納 mark

GREY = Color(0.35, 0.35, 0.35)
LIGHT = Color(0.92, 0.92, 0.92)


class NoticeCard(Protocol):
    """What a letter needs of a card (apps.issuance.models.Card has it)."""

    @property
    def notice_number(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def postal_code(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def delivery_date(self) -> date: ...


@dataclass(frozen=True)
class Sender:
    """The city's side of every letter in one PDF."""

    city_name: str
    phone: str
    counter: str  # where to come: the pickup counter's name and location
    bring: str  # what to bring (the pickup purpose's bring_ja)
    base_url: str  # the city's address, for the short URL and the QR code
    retention_months: int  # how long the city keeps an unclaimed card: gives the "come by" date


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day (1/31 + 1 → 2/28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise ValueError(day)  # unreachable: every month has a 28th


def postal_digits(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text or "") if ch.isdigit())


def postal_display(text: str) -> str:
    """〒 and the code as the post office writes it (362-8501); an unusual code is printed as given."""
    digits = postal_digits(text)
    if len(digits) == 7:
        return f"〒{digits[:3]}-{digits[3:]}"
    return f"〒{text.strip()}" if text.strip() else ""


def mail_order(card: NoticeCard) -> tuple[str, str, str]:
    """Bulk mail is handed to the post office sorted by postal code (then address, then notice number)."""
    return (postal_digits(card.postal_code), card.address, card.notice_number)


def _date(value: date) -> str:
    return to_wareki(value)


def _deadline(card: NoticeCard, sender: Sender) -> date:
    return add_months(card.delivery_date, sender.retention_months)


def _lead(card: NoticeCard, sender: Sender, kind: str) -> str:
    if kind == REMINDER:
        return (
            f"先に交付通知書でお知らせしたあなたのマイナンバーカードを、まだお受け取りいただいていません。"
            f"{_date(_deadline(card, sender))}までに、予約のうえ窓口でお受け取りください。"
        )
    return (
        "あなたのマイナンバーカードができあがりました。受け取りには予約が必要です。"
        "QRコードまたはその下のアドレスから予約のうえ、本人が窓口へお越しください。"
    )


def _letter(page: Page, card: NoticeCard, sender: Sender, kind: str, today: date, guides: bool) -> None:
    wx, wy, ww, wh = WINDOW
    if guides:  # the envelope's window, for the documentation's pictures only
        page.rect(wx, wy, ww, wh, stroke=0.4, dash=True)
    # The window: what the post office reads.
    x, right = wx + INSET, wx + ww - INSET
    page.text(x, wy + INSET + 4.2, postal_display(card.postal_code), 12, gothic=True)
    page.label(right - 22, wy + INSET, 22, 7, "転送不要", 12)
    y = page.lines(x, wy + INSET + 13, card.address, 10.5, ww - 2 * INSET, max_lines=3, address=True)
    name = f"{card.name}　様"
    size = page.fits(name, 16, ww - 2 * INSET)
    name_y = max(y + 3, wy + INSET + 29)
    page.text(x, name_y, name, size)
    if (
        name_y + 5 <= wy + wh - INSET
    ):  # a three-line address leaves no room: the number is printed below anyway
        page.text(x, wy + wh - INSET, f"通知書番号 {card.notice_number}", 8, gothic=True, color=GREY)

    # Beside the window (inside the envelope): date and sender.
    page.text(200, 22, _date(today), 10, align="right")
    page.text(200, 30, f"{sender.city_name}長", 11, align="right")
    if kind == REMINDER:
        page.label(125, 42, 75, 10, "再通知", 16)
        page.text(162.5, 57, "（2回目のお知らせです）", 9, gothic=True, align="center")

    # Title, at the bottom of the first third.
    heading = f"{TITLE}（再通知）" if kind == REMINDER else TITLE
    page.text(105, 78, heading, 18, gothic=True, align="center")
    page.line(30, 83, 180, 83, width=0.8)
    page.lines(20, 91, _lead(card, sender, kind), 9.5, 170)

    # Second third: what to do, with the QR code.
    qx = 200 - QR_LETTER
    top = FOLDS[0] + 6
    rows = [
        ("通知書番号", card.notice_number),
        ("氏名", f"{card.name}　様"),
        ("カードの到着日", _date(card.delivery_date)),
        ("受取期限", f"{_date(_deadline(card, sender))}（期限を過ぎると受け取れないことがあります）"),
        ("受取場所", sender.counter),
        ("持ち物", sender.bring),
        ("問い合わせ", f"{sender.city_name}　電話 {sender.phone}" if sender.phone else sender.city_name),
    ]
    y = top + 4
    for label_text, value in rows:
        page.text(20, y, label_text, 9, gothic=True)
        bold = label_text == "通知書番号"
        end = page.lines(48, y, value, 11 if bold else 9.5, qx - 56, gothic=bold, max_lines=4)
        page.line(20, end - 3.2, qx - 6, end - 3.2, width=0.3)
        y = end + 2.2
    url = notice_url(card.notice_number, sender.base_url)
    page.qr(qx, top, QR_LETTER, url)
    page.text(qx + QR_LETTER / 2, top + QR_LETTER + 4, "予約はこちら", 8.5, gothic=True, align="center")
    page.url(200, top + QR_LETTER + 8.5, url, 7.5, QR_LETTER + 4)
    notes = (
        "・予約のときに、この通知書番号と生年月日を入力します。\n"
        "・受け取りのときに暗証番号（4種類）を設定します。あらかじめ決めておいてください。\n"
        "・この通知書は受け取りの日に必ずお持ちください。"
    )
    page.lines(20, max(y + 3, top + 58), notes, 8.5, 170, color=GREY)

    # Last third: the proxy form (委任状).
    _proxy(page, card, sender)
    for fold in FOLDS:  # fold marks in the margins
        page.line(0, fold, 5, fold, width=0.3)
        page.line(205, fold, 210, fold, width=0.3)


def _proxy(page: Page, card: NoticeCard, sender: Sender) -> None:
    top = FOLDS[1] + 6
    page.rect(15, top, 180, 86, stroke=0.6)
    page.text(105, top + 8, "委任状", 14, gothic=True, align="center")
    page.text(105, top + 13.5, "（代理の方が受け取る場合だけ、本人が記入してください）", 8.5, align="center")
    page.lines(
        20,
        top + 20,
        f"{sender.city_name}長　あて　　私は、下記の者を代理人と定め、マイナンバーカード"
        f"（通知書番号 {card.notice_number}）の受け取りに関する権限を委任します。",
        9,
        170,
    )
    page.text(20, top + 33, "記入日　令和　　　年　　　月　　　日", 9)
    y = top + 41
    page.text(20, y, "委任者（本人）", 9, gothic=True)
    page.text(48, y, "住所", 8.5)
    page.lines(58, y, card.address, 8.5, 130, max_lines=1)
    y += 7
    page.text(48, y, "氏名（自署）", 8.5)
    page.line(68, y + 1, 135, y + 1, width=0.3)
    page.text(138, y, "生年月日　　　年　　月　　日", 8.5)
    y += 9
    page.text(20, y, "代理人", 9, gothic=True)
    for label_text in ("住所", "氏名", "生年月日・電話番号"):
        page.text(48, y, label_text, 8.5)
        page.line(80, y + 1, 190, y + 1, width=0.3)
        y += 7
    page.lines(
        20,
        y + 1,
        "※代理の方が受け取れるのは、病気、身体の障害、高齢、妊娠など、本人が来庁できない理由がある場合に限ります。"
        "理由を証明する書類と、本人と代理人それぞれの本人確認書類をお持ちください。"
        "15歳未満の方と成年被後見人の方は、法定代理人が同行してください。",
        7.5,
        170,
        color=GREY,
    )


def _postcard(page: Page, card: NoticeCard, sender: Sender, kind: str, today: date, guides: bool) -> None:
    if guides:  # the postage mark's corner, for the documentation's pictures only
        px, py, pw, ph = POSTAGE_MARK
        page.rect(px + 3, py + 3, pw - 6, ph - 6, stroke=0.4, dash=True)
    # Upper half: the address side.
    page.text(44, 15, postal_display(card.postal_code), 13, gothic=True)
    page.label(70, 21, 24, 7, "転送不要", 12)
    y = page.lines(12, 36, card.address, 10, 80, max_lines=3, address=True)
    name = f"{card.name}　様"
    page.text(12, max(y + 4, 51), name, page.fits(name, 15, 80))
    page.text(12, 66, f"{sender.city_name}　{sender.counter}", 7, gothic=True, color=GREY)
    page.text(12, 70, f"電話 {sender.phone}" if sender.phone else "", 7, gothic=True, color=GREY)
    page.line(5, 74, 95, 74, width=0.3, dash=True)

    # Lower half (通信欄): the notice; the QR code on the right, the facts beside it.
    if kind == REMINDER:
        page.label(6, 77.5, 16, 6, "再通知", 10)
        page.text(24, 82, f"{TITLE}（再通知）", page.fits(f"{TITLE}（再通知）", 10, 70), gothic=True)
    else:
        page.text(6, 82, TITLE, 11, gothic=True)
    page.text(6, 89, "通知書番号", 7.5, gothic=True)
    page.text(24, 89.3, card.notice_number, 12, gothic=True)
    page.text(95, 89, _date(today), 7, align="right")
    y = page.lines(6, 95, _lead(card, sender, kind), 7, 88, leading=1.35)
    qx, qy = 95 - QR_POSTCARD, y - 1
    url = notice_url(card.notice_number, sender.base_url)
    page.qr(qx, qy, QR_POSTCARD, url)
    below_qr = page.url(95, qy + QR_POSTCARD + 2.5, url, 6, 40)
    facts = [
        ("到着日", _date(card.delivery_date)),
        ("受取期限", _date(_deadline(card, sender))),
        ("場所", sender.counter),
        ("持ち物", sender.bring),
    ]
    y += 1.5
    for label_text, value in facts:
        page.text(6, y, label_text, 6.5, gothic=True)
        y = page.lines(17, y, value, 6.5, qx - 3 - 17, leading=1.3, max_lines=3) + 0.8
    notes = "予約のときに通知書番号と生年月日を入力します。受け取りの日はこのはがきをお持ちください。"
    y = max(y + 1, below_qr + 1.5)
    if y + 3 <= 139.5:  # two lines above the contact line, or none: a long list of things to bring wins
        page.lines(6, y, notes, 6.5, 88, leading=1.3, color=GREY)
    contact = f"問い合わせ　{sender.city_name}"
    if sender.phone:
        contact += f"　電話 {sender.phone}"
    page.text(6, 143, contact, 7.5, gothic=True)


def notices_pdf(
    cards: Iterable[NoticeCard],
    *,
    sender: Sender,
    variant: str,
    kind: str,
    today: date,
    guides: bool = False,
    title: str = "",
) -> bytes:
    """One page per card, in the order given (sort with `mail_order` for bulk mail). `guides` outlines the
    envelope window or postage corner (for the docs' pictures, never for printing)."""
    font = fonts()
    size = A4_SIZE if variant == LETTER else POSTCARD_SIZE
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=size, pageCompression=1, invariant=1)
    canvas.setTitle(title or TITLE)
    canvas.setAuthor(sender.city_name)
    page = Page(canvas, size[1] / mm, font)
    draw = _letter if variant == LETTER else _postcard
    for card in cards:
        draw(page, card, sender, kind, today, guides)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def sorted_for_mail(cards: Sequence[NoticeCard]) -> list[NoticeCard]:
    return sorted(cards, key=mail_order)
