"""Notice letters (交付通知書) drawn as PDF: an A4 letter for a 長形3号 window envelope, or a postcard.

Drawing only: no database writes, no permission checks (`services.notices_print` does those). The
measurements are in millimetres from the top-left corner of the page, as a designer measures them on paper; they
are written down in docs/notices.md. Every text is Japanese: the letter goes to residents and the post office.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Protocol

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.lib.colors import Color, black, white
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from apps.issuance.fonts import Fonts, fonts
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

# Characters that must not begin a line (a small 禁則 set), and those that must not end one.
_NO_START = set("、。，．,.・：；？！ー）」』】〕’”ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮ々")
_NO_END = set("（「『【〔‘“")


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


@lru_cache(maxsize=20_000)
def _width(char: str, font: str, size: float) -> float:
    return stringWidth(char, font, size)


def wrap(text: str, font: str, size: float, width: float, *, at_spaces: bool = False) -> list[str]:
    """Break Japanese text into lines no wider than `width` points, by character, keeping 、。） off line
    starts; explicit newlines are kept. `at_spaces`: break an address between its parts (at the last space in
    the line's last 40 %) rather than inside a building name or a room number."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line, used = "", 0.0
        for char in paragraph:
            step = _width(char, font, size)
            if line and used + step > width and char not in _NO_START:
                space = max(line.rfind(" "), line.rfind("　")) if at_spaces else -1
                if space >= len(line) * 0.6:
                    lines.append(line[:space])
                    line = line[space + 1 :]
                elif line[-1] in _NO_END:
                    lines.append(line[:-1])
                    line = line[-1]
                else:
                    lines.append(line)
                    line = ""
                used = sum(_width(c, font, size) for c in line)
            line += char
            used += step
        lines.append(line)
    return lines


class _Page:
    """A canvas in millimetres from the top-left corner, with the fonts of this PDF."""

    def __init__(self, canvas: Canvas, height_mm: float, font: Fonts) -> None:
        self.c = canvas
        self.h = height_mm
        self.f = font

    def text(
        self,
        x: float,
        y: float,
        value: str,
        size: float,
        *,
        gothic: bool = False,
        align: str = "left",
        color: Color = black,
    ) -> None:
        """`y` is the baseline, in mm from the top."""
        self.c.setFillColor(color)
        self.c.setFont(self.f.gothic if gothic else self.f.mincho, size)
        px, py = x * mm, (self.h - y) * mm
        if align == "right":
            self.c.drawRightString(px, py, value)
        elif align == "center":
            self.c.drawCentredString(px, py, value)
        else:
            self.c.drawString(px, py, value)
        self.c.setFillColor(black)

    def lines(
        self,
        x: float,
        y: float,
        value: str,
        size: float,
        width: float,
        *,
        gothic: bool = False,
        leading: float = 1.45,
        max_lines: int = 0,
        color: Color = black,
        address: bool = False,
    ) -> float:
        """Wrapped text from baseline `y`; returns the baseline after the last line (mm)."""
        font = self.f.gothic if gothic else self.f.mincho
        rows = wrap(value, font, size, width * mm, at_spaces=address)
        if max_lines and len(rows) > max_lines:
            rows = rows[:max_lines]
            rows[-1] = rows[-1][:-1] + "…"
        step = size * leading / mm
        for row in rows:
            self.text(x, y, row, size, gothic=gothic, color=color)
            y += step
        return y

    def fits(self, value: str, size: float, width: float, *, gothic: bool = False) -> float:
        """The largest size up to `size` (not below 60 % of it) at which `value` fits on one line."""
        font = self.f.gothic if gothic else self.f.mincho
        smallest = size * 0.6
        while size > smallest and stringWidth(value, font, size) > width * mm:
            size -= 0.5
        return size

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        *,
        fill: Color | None = None,
        stroke: float = 0.6,
        dash: bool = False,
    ) -> None:
        self.c.saveState()
        self.c.setLineWidth(stroke)
        if dash:
            self.c.setDash(2, 2)
        if fill is not None:
            self.c.setFillColor(fill)
        self.c.rect(
            x * mm, (self.h - y - h) * mm, w * mm, h * mm, stroke=1 if stroke else 0, fill=fill is not None
        )
        self.c.restoreState()

    def line(
        self, x1: float, y1: float, x2: float, y2: float, *, width: float = 0.5, dash: bool = False
    ) -> None:
        self.c.saveState()
        self.c.setLineWidth(width)
        if dash:
            self.c.setDash(1.5, 1.5)
        self.c.line(x1 * mm, (self.h - y1) * mm, x2 * mm, (self.h - y2) * mm)
        self.c.restoreState()

    def url(self, right: float, y: float, value: str, size: float, width: float) -> float:
        """The short address under a QR code, right-aligned, without its scheme (a resident types it as seen);
        split before its path when one line is too narrow."""
        shown = value.split("://", 1)[-1]
        rows = [shown]
        if stringWidth(shown, self.f.gothic, size) > width * mm and "/" in shown:
            cut = shown.index("/")
            rows = [shown[:cut], shown[cut:]]
        for row in rows:
            self.text(right, y, row, self.fits(row, size, width, gothic=True), gothic=True, align="right")
            y += size * 1.3 / mm
        return y

    def label(self, x: float, y: float, w: float, h: float, value: str, size: float) -> None:
        """A black box with white bold text: 転送不要 and the reminder heading, seen at a glance."""
        self.rect(x, y, w, h, fill=black, stroke=0)
        self.text(
            x + w / 2, y + h / 2 + size * 0.36 / mm, value, size, gothic=True, align="center", color=white
        )

    def qr(self, x: float, y: float, size: float, value: str) -> None:
        """A QR code (error correction M) `size` mm wide, quiet zone included, top-left at (x, y).

        QrCodeWidget encodes; the modules are drawn as one path of horizontal runs, which is some ten times
        faster than rendering the widget's drawing (it matters for a batch of thousands of letters)."""
        code = QrCodeWidget(value, barLevel="M").qr
        code.make()
        count = code.getModuleCount()
        border = 4
        box = size * mm / (count + 2 * border)
        left, top = x * mm, (self.h - y) * mm
        path = self.c.beginPath()
        for r in range(count):
            c = 0
            while c < count:
                if code.isDark(r, c):
                    start = c
                    while c < count and code.isDark(r, c):
                        c += 1
                    path.rect(
                        left + (start + border) * box, top - (r + border + 1) * box, (c - start) * box, box
                    )
                else:
                    c += 1
        self.c.saveState()
        self.c.setFillColor(black)
        self.c.drawPath(path, stroke=0, fill=1)
        self.c.restoreState()


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


def _letter(page: _Page, card: NoticeCard, sender: Sender, kind: str, today: date, guides: bool) -> None:
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


def _proxy(page: _Page, card: NoticeCard, sender: Sender) -> None:
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


def _postcard(page: _Page, card: NoticeCard, sender: Sender, kind: str, today: date, guides: bool) -> None:
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
    page = _Page(canvas, size[1] / mm, font)
    draw = _letter if variant == LETTER else _postcard
    for card in cards:
        draw(page, card, sender, kind, today, guides)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def sorted_for_mail(cards: Sequence[NoticeCard]) -> list[NoticeCard]:
    return sorted(cards, key=mail_order)
