"""Japanese text conventions as pure functions: NFKC, kana keys, 和暦, notice numbers, postal codes, cp932.

Every app reads and writes Japanese the same way (DOMAIN.md): what a resident types at home, what staff type at
the counter and what a city's CSV holds are folded by the same rules, so a name or a notice number typed one way
finds the row written another way. No Django here: callers put the messages and the form fields around these.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# Hyphen and dash look-alikes that residents, IMEs and city systems write between digits (NFKC keeps most of them;
# the long-vowel mark ー is what an IME often produces in "A1B ー 123456").
DASHES = "-‐‑‒–—―−ー"
_DASHES_TO_HYPHEN = str.maketrans(dict.fromkeys("‐‑‒–—―−ー－", "-"))


def nfkc(text: str) -> str:
    """`text` in NFKC: full-width digits, letters and spaces become ASCII, half-width kana full-width."""
    return unicodedata.normalize("NFKC", text)


def kana_key(text: str) -> str:
    """DOMAIN.md's folded matching key: NFKC, hiragana → katakana, dash variants unified, spaces removed."""
    folded = nfkc(text)
    folded = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in folded)
    for dash in ("-", "‐", "−", "–", "—", "ｰ"):
        folded = folded.replace(dash, "ー")
    return "".join(folded.split())


# 和暦 (the era calendar) as residents pick it in a form: code, name, first day of the era (the last era day is
# the day before the next era's first).
ERAS: list[tuple[str, str, date]] = [
    ("reiwa", "令和", date(2019, 5, 1)),
    ("heisei", "平成", date(1989, 1, 8)),
    ("showa", "昭和", date(1926, 12, 25)),
    ("taisho", "大正", date(1912, 7, 30)),
]


def to_wareki(value: date) -> str:
    """令和8年12月7日 (元年 for the first year); dates before 大正 are returned in 西暦."""
    for _code, name, first in ERAS:
        if value >= first:
            year = value.year - first.year + 1
            return f"{name}{'元' if year == 1 else year}年{value.month}月{value.day}日"
    return f"{value.year}年{value.month}月{value.day}日"


# 和暦 and 西暦 as city systems write them in a CSV cell (parse_date): full names, one-character and Latin
# abbreviations (S55.4.1), and 明治 for the oldest residents.
_SEIREKI = re.compile(r"(\d{4})\s*(?:年|[./-])\s*(\d{1,2})\s*(?:月|[./-])\s*(\d{1,2})\s*日?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_WAREKI = re.compile(
    r"(明治|大正|昭和|平成|令和|明|大|昭|平|令|[MTSHR])\s*(元|\d{1,2})\s*(?:年|[./-])\s*(\d{1,2})\s*(?:月|[./-])\s*"
    r"(\d{1,2})\s*日?",
    re.IGNORECASE,
)
# Each era's first day; an era's last day is the day before the next one's first.
_ERA_NAMES: list[tuple[tuple[str, ...], date]] = [
    (("明治", "明", "M"), date(1868, 1, 25)),
    (("大正", "大", "T"), date(1912, 7, 30)),
    (("昭和", "昭", "S"), date(1926, 12, 25)),
    (("平成", "平", "H"), date(1989, 1, 8)),
    (("令和", "令", "R"), date(2019, 5, 1)),
]


def parse_date(text: str) -> tuple[date | None, str]:
    """A date typed in 西暦 (1980-04-01, 1980/4/1, 1980年4月1日, 19800401) or 和暦 (S55.4.1, 昭和55年4月1日,
    令和元年5月1日); (None, problem code) when it is not one."""
    folded = unicodedata.normalize("NFKC", text).strip().translate(_DASHES_TO_HYPHEN)
    if match := _SEIREKI.fullmatch(folded) or _COMPACT.fullmatch(folded):
        try:
            return date(int(match[1]), int(match[2]), int(match[3])), ""
        except ValueError:
            return None, "date"
    if match := _WAREKI.fullmatch(folded):
        era = match[1].upper() if match[1].isascii() else match[1]
        number = next(n for n, (names, _first) in enumerate(_ERA_NAMES) if era in names)
        start = _ERA_NAMES[number][1]
        year = start.year + (1 if match[2] == "元" else int(match[2])) - 1
        try:
            day = date(year, int(match[3]), int(match[4]))
        except ValueError:
            return None, "date"
        end = _ERA_NAMES[number + 1][1] if number + 1 < len(_ERA_NAMES) else date.max
        if not start <= day < end:
            return None, "era_range"
        return day, ""
    return None, "date"


def postal_code_normalise(text: str) -> str | None:
    """`362-8501` from any width, with or without 〒 and the hyphen; None when it is not seven digits."""
    digits = unicodedata.normalize("NFKC", text).translate(_DASHES_TO_HYPHEN).replace("〒", "")
    digits = "".join(digits.split()).replace("-", "")
    if len(digits) == 7 and digits.isascii() and digits.isdigit():
        return f"{digits[:3]}-{digits[3:]}"
    return None


# The notice number printed on a 交付通知書: three letters or digits, a hyphen, six digits.
_NOTICE = re.compile(r"([A-Z0-9]{3})([0-9]{6})")


def notice_number_normalise(text: str) -> str | None:
    """`A1B-123456` from any width, case, with or without the hyphen; None when it is not that shape."""
    folded = unicodedata.normalize("NFKC", text or "").upper()
    folded = "".join(c for c in folded if c not in DASHES and not c.isspace())
    match = _NOTICE.fullmatch(folded)
    return f"{match.group(1)}-{match.group(2)}" if match else None


def cp932_unencodable(text: str) -> str:
    """The characters of `text` that cp932 (Windows Shift_JIS, what Excel and city systems read) cannot hold, each
    once, in order: 𠮷, 𩸽, an em dash. Never `shift_jis`, which also fails on ①, ㈱, 髙 and 﨑."""
    bad: list[str] = []
    for ch in text:
        try:
            ch.encode("cp932")
        except UnicodeEncodeError:
            if ch not in bad:
                bad.append(ch)
    return "".join(bad)
