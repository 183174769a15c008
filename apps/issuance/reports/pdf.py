"""The reports as PDF (A4): a title, the bar chart drawn with reportlab's graphics, and the table of figures.

Fonts come from `apps.issuance.fonts.fonts()` (IPAex embedded when installed), like every PDF of this app.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from apps.issuance.fonts import fonts
from apps.issuance.reports.charts import Bar, nice_top

PRIMARY = colors.HexColor("#1d4e89")
HEAD = colors.HexColor("#f4f4f4")
RULE = colors.HexColor("#d0d0d0")


@dataclass(frozen=True)
class PdfReport:
    title: str
    subtitle: str  # the city and the period
    chart_title: str
    bars: Sequence[Bar]
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]  # the last row may be the total (set `total_row`)
    total_row: bool = True
    wide: bool = False  # A4 landscape, for many columns
    notes: Sequence[str] = ()


def _chart(report: PdfReport, width: float, font: str) -> Drawing:
    height = 60 * mm
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 10, report.chart_title, fontName=font, fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y = 30, 24
    chart.width, chart.height = width - 40, height - 44
    values = [bar.value for bar in report.bars] or [0]
    chart.data = [values]
    chart.categoryAxis.categoryNames = [bar.label for bar in report.bars] or [""]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    top = nice_top(max(values))
    chart.valueAxis.valueMax = top
    chart.valueAxis.valueStep = max(top // 5, 1)
    chart.bars[0].fillColor = PRIMARY
    chart.bars[0].strokeColor = None
    chart.barLabelFormat = lambda value: str(int(value)) if value else ""
    chart.barLabels.fontName = font
    chart.barLabels.fontSize = 6
    chart.barLabels.nudge = 5
    drawing.add(chart)
    return drawing


def report_pdf(report: PdfReport) -> bytes:
    face = fonts()
    page = landscape(A4) if report.wide else A4
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=page,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=report.title,
        subject=report.subtitle,
        creator="Madoguchi",
    )
    heading = ParagraphStyle("heading", fontName=face.gothic, fontSize=15, leading=20, spaceAfter=4)
    body = ParagraphStyle("body", fontName=face.gothic, fontSize=9, leading=13)
    data = [list(report.headers), *[list(row) for row in report.rows]]
    table = Table(data, repeatRows=1)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), face.gothic),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5 if report.wide else 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if report.total_row and report.rows:
        style += [
            ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
            ("FONTNAME", (0, -1), (-1, -1), face.gothic),
        ]
    table.setStyle(TableStyle(style))
    story = [
        Paragraph(escape(report.title), heading),
        Paragraph(escape(report.subtitle), body),
        Spacer(1, 4 * mm),
        _chart(report, page[0] - 24 * mm, face.gothic),
        Spacer(1, 4 * mm),
        table,
    ]
    for note in report.notes:
        story += [Spacer(1, 2 * mm), Paragraph(escape(note), body)]
    doc.build(story)
    return buffer.getvalue()
