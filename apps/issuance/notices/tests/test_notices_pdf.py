"""The notice letter as a resident and the post office see it: text, order, paper size, fonts (no database)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from apps.issuance import fonts as fonts_module
from apps.issuance.notices.drawing import wrap
from apps.issuance.notices.pdf import (
    LETTER,
    NOTICE,
    POSTCARD,
    REMINDER,
    Sender,
    add_months,
    mail_order,
    notices_pdf,
    postal_display,
)

IPAEX = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")
MM = 72 / 25.4
SENDER = Sender(
    city_name="上尾市",
    phone="048-775-5111",
    counter="マイナンバーカード窓口（本庁舎1階 市民課）",
    bring="交付通知書、本人確認書類、通知カード（お持ちの方）",
    base_url="https://ageo.madoguchi.jp",
    retention_months=6,
)
TODAY = date(2026, 11, 28)


@dataclass(frozen=True)
class Resident:
    notice_number: str = "A1B-123456"
    name: str = "上尾　花子"
    postal_code: str = "362-8501"
    address: str = "埼玉県上尾市本町三丁目1番1号"
    delivery_date: date = date(2026, 11, 2)


def pages(pdf: bytes) -> list[str]:
    """Each page's text, lines joined (a wrapped address or URL reads as one string)."""
    document = pdfium.PdfDocument(pdf)
    return [re.sub(r"[\r\n]+", "", page.get_textpage().get_text_range()) for page in document]


def sizes_mm(pdf: bytes) -> list[tuple[float, float]]:
    return [(round(w / MM, 1), round(h / MM, 1)) for w, h in (p.get_size() for p in pdfium.PdfDocument(pdf))]


@pytest.mark.parametrize("variant", [LETTER, POSTCARD])
def test_the_letter_carries_what_the_resident_and_the_post_office_need(variant: str) -> None:
    (text,) = pages(notices_pdf([Resident()], sender=SENDER, variant=variant, kind=NOTICE, today=TODAY))
    assert "転送不要" in text
    assert "〒362-8501" in text
    assert "埼玉県上尾市本町三丁目1番1号" in text
    assert "上尾　花子　様" in text
    assert "A1B-123456" in text
    assert "ageo.madoguchi.jp/n/A1B123456" in text  # the short URL under the QR code, typeable from the paper
    assert "048-775-5111" in text
    assert "上尾市" in text
    assert "交付通知書、本人確認書類、通知カード（お持ちの方）" in text
    assert "マイナンバーカード窓口（本庁舎1階 市民課）" in text
    assert "令和8年11月2日" in text  # the delivery date, in 和暦
    assert "令和9年5月2日" in text  # come by: delivery + the city's retention months
    assert "再通知" not in text


def test_the_a4_letter_has_the_proxy_form() -> None:
    (text,) = pages(notices_pdf([Resident()], sender=SENDER, variant=LETTER, kind=NOTICE, today=TODAY))
    assert "委任状" in text
    assert "代理人" in text
    assert "令和8年11月28日" in text  # the date of the letter


def test_paper_sizes_are_a4_and_postcard() -> None:
    letter = notices_pdf([Resident()], sender=SENDER, variant=LETTER, kind=NOTICE, today=TODAY)
    postcard = notices_pdf([Resident()], sender=SENDER, variant=POSTCARD, kind=NOTICE, today=TODAY)
    assert sizes_mm(letter) == [(210.0, 297.0)]
    assert sizes_mm(postcard) == [(100.0, 148.0)]


@pytest.mark.parametrize("variant", [LETTER, POSTCARD])
def test_a_reminder_says_so_in_its_heading(variant: str) -> None:
    (text,) = pages(notices_pdf([Resident()], sender=SENDER, variant=variant, kind=REMINDER, today=TODAY))
    assert "マイナンバーカード交付通知書（再通知）" in text
    assert "まだお受け取りいただいていません" in text
    assert "転送不要" in text


def test_a_batch_has_one_page_per_card_in_postal_code_order() -> None:
    cards = [
        Resident(notice_number="C00-000003", postal_code="363-0001", address="桶川市"),
        Resident(notice_number="C00-000001", postal_code="３６２０００１", address="上尾市B"),
        Resident(notice_number="C00-000002", postal_code="3620001", address="上尾市A"),
        Resident(notice_number="C00-000004", postal_code="", address="住所のみ"),
    ]
    pdf = notices_pdf(
        sorted(cards, key=mail_order), sender=SENDER, variant=POSTCARD, kind=NOTICE, today=TODAY
    )
    texts = pages(pdf)
    assert len(texts) == 4
    order = [re.search(r"C00-00000\d", text).group(0) for text in texts]  # type: ignore[union-attr]
    # No postal code first (hand-sorted), then 362-0001 by address (A before B), then 363-0001.
    assert order == ["C00-000004", "C00-000002", "C00-000001", "C00-000003"]


@pytest.fixture
def fresh_fonts() -> Iterator[None]:
    fonts_module.fonts.cache_clear()
    yield
    fonts_module.fonts.cache_clear()


@pytest.mark.skipif(not IPAEX.is_file(), reason="IPAex is not installed (make browser-deps)")
def test_ipaex_is_embedded_when_installed(fresh_fonts: None) -> None:
    pdf = notices_pdf([Resident()], sender=SENDER, variant=LETTER, kind=NOTICE, today=TODAY)
    assert fonts_module.fonts().embedded
    assert b"/FontFile2" in pdf  # the TrueType glyphs travel with the file
    assert b"IPAex" in pdf


def test_without_ipaex_the_cid_fonts_still_make_a_valid_pdf(
    fresh_fonts: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MADOGUCHI_FONT_MINCHO", str(tmp_path / "missing-mincho.ttf"))
    monkeypatch.setenv("MADOGUCHI_FONT_GOTHIC", str(tmp_path / "missing-gothic.ttf"))
    pdf = notices_pdf([Resident(), Resident()], sender=SENDER, variant=LETTER, kind=NOTICE, today=TODAY)
    assert not fonts_module.fonts().embedded
    assert b"/FontFile2" not in pdf
    assert b"HeiseiMin-W3" in pdf
    texts = pages(pdf)
    assert len(texts) == 2
    assert "A1B-123456" in texts[0]


def test_long_names_and_addresses_stay_inside_their_box() -> None:
    long_address = (
        "埼玉県上尾市大字上尾下１２３４番地の５６　グランドパレス上尾駅前ステーションタワー東館１２３４号室"
    )
    resident = Resident(name="寿限無寿限無五劫の擦り切れ海砂利水魚の水行末", address=long_address)
    for variant in (LETTER, POSTCARD):
        (text,) = pages(notices_pdf([resident], sender=SENDER, variant=variant, kind=NOTICE, today=TODAY))
        assert "寿限無寿限無五劫の擦り切れ海砂利水魚の水行末" in text
        assert "埼玉県上尾市大字上尾下" in text


def test_helpers() -> None:
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2026, 11, 2), 6) == date(2027, 5, 2)
    assert postal_display("３６２８５０１") == "〒362-8501"
    assert postal_display("") == ""
    font = fonts_module.fonts().mincho
    lines = wrap("あいうえお。かきくけこ。", font, 10, 45)  # four and a half characters a line
    assert "".join(lines) == "あいうえお。かきくけこ。"
    assert len(lines) > 1
    assert not any(line.startswith("。") for line in lines)
