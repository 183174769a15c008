"""Japanese fonts for the PDFs (notices, reports) that work on a fresh machine.

IPAex (Debian's fonts-ipaexfont, installed by `make test`; or the files named by MADOGUCHI_FONT_MINCHO /
MADOGUCHI_FONT_GOTHIC) is embedded when present. Without it reportlab's built-in CID fonts are used: nothing to
install, but not embedded, so the viewer supplies the glyphs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

_IPAEX = {
    "mincho": (
        "MADOGUCHI_FONT_MINCHO",
        "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf",
        "IPAexMincho",
    ),
    "gothic": (
        "MADOGUCHI_FONT_GOTHIC",
        "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
        "IPAexGothic",
    ),
}
_CID = {"mincho": "HeiseiMin-W3", "gothic": "HeiseiKakuGo-W5"}


@dataclass(frozen=True)
class Fonts:
    mincho: str  # reportlab font names, registered
    gothic: str
    embedded: bool


def _register(kind: str) -> tuple[str, bool]:
    variable, default, name = _IPAEX[kind]
    path = Path(os.environ.get(variable) or default)
    if path.is_file():
        pdfmetrics.registerFont(TTFont(name, str(path)))
        return name, True
    pdfmetrics.registerFont(UnicodeCIDFont(_CID[kind]))
    return _CID[kind], False


@cache
def fonts() -> Fonts:
    """Register (once per process) and name the Japanese fonts to draw with."""
    mincho, embedded_m = _register("mincho")
    gothic, embedded_g = _register("gothic")
    return Fonts(mincho=mincho, gothic=gothic, embedded=embedded_m and embedded_g)
