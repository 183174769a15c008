"""A generated card list for the benchmarks: plausible names in mixed kana scripts, unique notice numbers.

Used by the import benchmark (bench/issuance.py) and by the HTTP flow's pickup variant, which books with these
cards' notice numbers and dates of birth.
"""

from __future__ import annotations

import random
from pathlib import Path

SURNAMES = [
    ("佐藤", "サトウ"), ("鈴木", "すずき"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "いとう"),
    ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "なかむら"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
    ("髙﨑", "タカサキ"), ("山﨑", "やまさき"), ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("佐々木", "ササキ"),
]  # fmt: skip
GIVEN = [
    ("太郎", "タロウ"), ("花子", "ハナコ"), ("一郎", "イチロウ"), ("美咲", "ミサキ"), ("健一", "ケンイチ"),
    ("結衣", "ユイ"), ("翔太", "ショウタ"), ("さくら", "サクラ"), ("誠", "マコト"), ("陽子", "ヨウコ"),
]  # fmt: skip
TOWNS = ["本町", "仲町", "柏座", "愛宕", "谷津", "原市", "瓦葺", "平塚", "浅間台", "西宮下", "今泉", "春日"]


def generate_file(path: Path, rows: int, seed: int = 6) -> None:
    """A plausible card list: unique notice numbers, mixed kana scripts, a few express cards."""
    import csv

    from apps.issuance.imports.csv_read import COLUMNS

    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([c.header for c in COLUMNS])
        for n in range(rows):
            surname, surname_kana = rng.choice(SURNAMES)
            given, given_kana = rng.choice(GIVEN)
            year = rng.randint(1935, 2024)
            writer.writerow(
                [
                    f"{'BCDFGHJKLM'[n // 100_000 % 10]}{n // 10_000 % 10}X-{n % 1_000_000:06d}",
                    f"{surname} {given}",
                    f"{surname_kana} {given_kana}",
                    f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    f"362-{rng.randint(1, 99):04d}",
                    f"埼玉県上尾市{rng.choice(TOWNS)}{rng.randint(1, 5)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号",
                    f"2026-11 第{n // 25_000 + 1}回",
                    "2026-11-16",
                    rng.choice(["新規", "新規", "新規", "更新", "再交付"]),
                    "1" if rng.random() < 0.02 else "0",
                ]
            )
