"""Drawing primitives of the notice letters (pdf.py lays the letters out with them): a reportlab canvas measured
in millimetres from the top-left corner, as a designer measures paper; Japanese text wrapped by character with a
small 禁則 set; boxes, rules, labels, the short address and the QR code."""

from __future__ import annotations

from functools import lru_cache

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.lib.colors import Color, black, white
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from apps.issuance.fonts import Fonts

# Characters that must not begin a line (a small 禁則 set), and those that must not end one.
_NO_START = set("、。，．,.・：；？！ー）」』】〕’”ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮ々")
_NO_END = set("（「『【〔‘“")


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


class Page:
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
