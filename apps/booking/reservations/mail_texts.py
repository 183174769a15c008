"""A city's own email texts: placeholders such as {code} filled with plain values, nothing else.

The texts are written by city staff, so they are data, not code: only bare names are replaced; `{x.y}`, `{x[0]}`,
conversions (`{x!r}`) and format specs (`{x:>999999}`) are refused when saved, and a stored text that has them
anyway is left as written, never evaluated. Unknown names stay visible (`{typo}`) so the writer sees the mistake.
"""

from __future__ import annotations

from string import Formatter

from django.utils.translation import gettext_lazy as _

PLACEHOLDERS: dict[str, object] = {
    "code": _("予約番号"),
    "date": _("来庁日"),
    "time": _("時間"),
    "purpose": _("用件"),
    "counter": _("窓口"),
    "location": _("窓口の場所"),
    "bring": _("持ち物"),
    "phone": _("市区町村の電話番号"),
    "city": _("市区町村名"),
    "manage_url": _("変更・取消のリンク"),
}


def placeholder_errors(text: str) -> list[str]:
    """What is wrong with the placeholders of `text` (empty when it can be saved)."""
    try:
        parts = list(Formatter().parse(text))
    except ValueError:
        return [
            str(
                _(
                    "波かっこ { } の対応が取れていません。波かっこを文字として使うときは、二つ重ねて書いてください。"
                )
            )
        ]
    errors = []
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            errors.append(
                str(_("「{%(name)s}」は使えません。{code} のような名前だけを書いてください。"))
                % {"name": name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")}
            )
    return errors


def render_text(text: str, values: dict[str, str]) -> str:
    """`text` with each known {name} replaced by its value; anything else is kept exactly as written."""
    try:
        parts = list(Formatter().parse(text))
    except ValueError:
        return text
    out: list[str] = []
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        if name in values and not spec and not conversion:
            out.append(values[name])
        else:
            out.append(
                "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            )
    return "".join(out)
