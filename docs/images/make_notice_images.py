"""Draw the pictures of docs/notices.md: page 1 of the A4 letter and of the postcard, for a made-up resident.

    .venv/bin/python docs/images/make_notice_images.py [--guides]

No database is needed: the city's side of the letter is written out here. `--guides` outlines the envelope
window and the postcard's postage corner (the committed pictures have them, to show where the address sits).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")


@dataclass(frozen=True)
class Resident:
    notice_number: str = "A1B-123456"
    name: str = "上尾　花子"
    postal_code: str = "3628501"
    address: str = "埼玉県上尾市本町三丁目1番1号　上尾ハイツ203号室"
    delivery_date: date = date(2026, 11, 2)


def main() -> None:
    import django

    django.setup()
    import pypdfium2 as pdfium

    from apps.issuance.notices.pdf import LETTER, NOTICE, POSTCARD, Sender, notices_pdf

    sender = Sender(
        city_name="上尾市",
        phone="048-775-5111",
        counter="マイナンバーカード窓口（本庁舎1階 市民課）",
        bring="交付通知書、本人確認書類、通知カード（お持ちの方）、住民基本台帳カード（お持ちの方）",
        base_url="https://ageo.madoguchi.jp",
        retention_months=6,
    )
    guides = "--guides" in sys.argv
    for variant, name in ((LETTER, "notice-letter.png"), (POSTCARD, "notice-postcard.png")):
        pdf = notices_pdf(
            [Resident()], sender=sender, variant=variant, kind=NOTICE, today=date(2026, 11, 28), guides=guides
        )
        document = pdfium.PdfDocument(pdf)
        image = document[0].render(scale=2).to_pil()
        image.save(Path(__file__).parent / name, optimize=True)
        sys.stdout.write(f"{name} {image.size}\n")


if __name__ == "__main__":
    main()
