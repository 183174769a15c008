"""Never the 個人番号: one rule that refuses the 12-digit individual number in every text input.

The 番号法 gives this system no reason to hold a resident's individual number, so no form field, API field or
imported cell may carry one (docs/security.md, DOMAIN.md "Never store the 個人番号"). The rule: a *whole token*
that is exactly 12 digits, after NFKC and removing spaces and hyphens, with a valid check digit.

How text is cut into tokens (the decisions, and why):

1. The text is NFKC-normalised, so full-width digits (１２３), full-width spaces and full-width hyphens become
   ASCII. Hyphen look-alikes that NFKC keeps (‐ ‑ ‒ – — ― − and the long-vowel mark ー, which Japanese IMEs often
   produce between digits) are read as hyphens. Any other Unicode decimal digit counts as its digit.
2. A *digit group* is a maximal run of digits. A token is never cut inside a digit group: a 13-digit run is one
   13-digit token and never a 12-digit number plus a digit, whatever 12 of its digits would give. (About one
   random 12-digit string in eleven passes the check digit, so scanning inside longer numbers would refuse
   ordinary long numbers all the time.)
3. Neighbouring groups are one token when only a *joiner* stands between them. Tokens are read at two widths
   and a 12-digit token at either width is refused:
   - hyphen-joined: exactly one hyphen ("1234-5678-9012");
   - space-joined: one to three characters of spaces with at most one hyphen among them ("1234 5678 9012",
     "1234 - 5678 - 9012", "1234  5678  9012").
   Reading both widths catches a number written in groups ("1234 5678 9012") and a number that stands next to
   other figures ("受付 10 123456789018", "12:00 1234-5678-9012"), while a token still only ever starts and ends
   at a joiner or at a character that is neither digit nor joiner.
4. Everything else ends a token: letters, kana, punctuation (":", "/", ".", ","), line breaks and tabs (separate
   lines and cells are separate values), two hyphens in a row, and four or more spaces (layout, not grouping).

So "電話 048-775-5111" is a 10-digit token (allowed), "1234567890180" is a 13-digit token (allowed even though
its first 12 digits are a valid number), and "番号は１２３４ ５６７８ ９０１８です" is refused.

This module is the rule alone, pure functions of text (the logging filter and the CSV reader use it too); what
refuses a number in a form, a model field or an API payload is apps/security/mynumber.py.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator

LENGTH = 12

# Hyphen look-alikes that survive NFKC (U+FF0D and U+FE63 already become "-"; U+FF70 becomes U+30FC).
_HYPHENS = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u30fc\ufe58"), "-")
_DIGIT_GROUP = re.compile(r"[0-9]+")


def _hyphen_joiner(between: str) -> bool:
    return between == "-"


def _space_joiner(between: str) -> bool:
    return 1 <= len(between) <= 3 and not between.strip(" -") and between.count("-") <= 1


def check_digit(first_eleven: str) -> int:
    """The check digit of a 個人番号 from its first 11 digits.

    Number the digits n = 1..11 from the right; weight n + 1 for n <= 6 and n - 5 for n >= 7; r = the weighted
    sum mod 11; the check digit is 0 when r <= 1, else 11 - r.
    """
    if len(first_eleven) != LENGTH - 1 or not first_eleven.isascii() or not first_eleven.isdigit():
        raise ValueError("expected 11 ASCII digits")
    total = 0
    for n in range(1, LENGTH):  # n = 1 is the rightmost of the eleven
        weight = n + 1 if n <= 6 else n - 5
        total += int(first_eleven[LENGTH - 1 - n]) * weight
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_individual_number(token: str) -> bool:
    """True when `token` is exactly 12 ASCII digits whose last digit is the 個人番号 check digit."""
    if len(token) != LENGTH or not token.isascii() or not token.isdigit():
        return False
    return check_digit(token[:-1]) == int(token[-1])


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_HYPHENS)
    # Decimal digits of other scripts (e.g. Arabic-Indic) are digits too; NFKC leaves them as they are.
    if not text.isascii():
        text = "".join(
            str(value) if (value := unicodedata.decimal(ch, None)) is not None else ch for ch in text
        )
    return text


def _token_spans(text: str, joiner: Callable[[str], bool]) -> Iterator[tuple[str, int, int]]:
    """Each token's digits with its start and end in `text`: digit groups chained while only a whole `joiner`
    stands between them."""
    digits: list[str] = []
    start = end = -1
    for group in _DIGIT_GROUP.finditer(text):
        if digits and joiner(text[end : group.start()]):
            digits.append(group.group())
        else:
            if digits:
                yield "".join(digits), start, end
            digits = [group.group()]
            start = group.start()
        end = group.end()
    if digits:
        yield "".join(digits), start, end


def _tokens(text: str, joiner: Callable[[str], bool]) -> Iterator[str]:
    return (digits for digits, _start, _end in _token_spans(text, joiner))


def individual_numbers_in(text: str) -> list[str]:
    """Each distinct 個人番号 found in `text` (digits only); empty when there is none."""
    normalised = _normalise(text)
    found: list[str] = []
    for joiner in (_hyphen_joiner, _space_joiner):
        found.extend(t for t in _tokens(normalised, joiner) if is_individual_number(t) and t not in found)
    return found


def contains_individual_number(text: str) -> bool:
    """True when a whole token of `text` is a 個人番号 (see the module docstring for what a token is)."""
    return bool(individual_numbers_in(text))


MASK = "[個人番号]"


def mask_individual_numbers(text: str, mask: str = MASK) -> str:
    """`text` with each 個人番号 in it replaced by `mask`: for log lines and audit summaries built from what a
    client sent (a path, a file name), which must never carry the number itself.

    The tokens are found as `contains_individual_number` finds them, character by character so that each
    position maps back to the original text. Should the two ever disagree (NFKC folds a few characters
    differently in context), every digit of the text is masked rather than letting the number through.
    """
    if not contains_individual_number(text):
        return text
    pieces: list[str] = []
    origin: list[int] = []  # for each character of the normalised text, the index of its original character
    for index, ch in enumerate(text):
        folded = _normalise(ch)
        pieces.append(folded)
        origin.extend([index] * len(folded))
    normalised = "".join(pieces)
    spans: list[tuple[int, int]] = []
    for joiner in (_hyphen_joiner, _space_joiner):
        for digits, start, end in _token_spans(normalised, joiner):
            if is_individual_number(digits):
                spans.append((origin[start], origin[end - 1] + 1))
    merged: list[list[int]] = []  # the two readings of one number may overlap: mask their union
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    masked = text
    for start, end in reversed(merged):
        masked = masked[:start] + mask + masked[end:]
    if contains_individual_number(masked):
        masked = "".join(
            "*" if unicodedata.decimal(ch, None) is not None or ch.isdigit() else ch for ch in text
        )
    return masked
