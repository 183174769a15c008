"""Japanese first, English complete, Tokyo time."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.test import Client
from django.utils import timezone

LOCALE = Path(settings.BASE_DIR) / "frontend" / "locale"


def _entries(po: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) of every entry but the header; plural forms count by their first form."""
    entries, msgid, msgstr, fuzzy, target = [], None, "", False, None
    for line in [*po.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if msgid:
                entries.append((msgid, msgstr, fuzzy))
            msgid, msgstr, fuzzy, target = None, "", False, None
        elif line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("msgid "):
            msgid, target = line[6:].strip('"'), "id"
        elif line.startswith(("msgstr ", "msgstr[0] ")):
            msgstr, target = line.split(" ", 1)[1].strip('"'), "str"
        elif line.startswith('"') and target == "id":
            msgid = (msgid or "") + line.strip('"')
        elif line.startswith('"') and target == "str":
            msgstr += line.strip('"')
        elif line.startswith("msgstr["):
            target = None
    return entries


def test_english_translation_is_complete() -> None:
    entries = _entries(LOCALE / "en" / "LC_MESSAGES" / "django.po")
    assert len(entries) > 20
    missing = [msgid for msgid, msgstr, fuzzy in entries if not msgstr or fuzzy]
    assert missing == []
    assert (LOCALE / "en" / "LC_MESSAGES" / "django.mo").stat().st_mtime >= (
        LOCALE / "en" / "LC_MESSAGES" / "django.po"
    ).stat().st_mtime - 1, "run `make messages`: the compiled catalogue is older than the .po"


def test_japanese_is_the_default_and_tokyo_the_time_zone(city_client: Client) -> None:
    assert settings.LANGUAGE_CODE == "ja"
    assert settings.TIME_ZONE == "Asia/Tokyo"
    assert str(timezone.get_current_timezone()) == "Asia/Tokyo"
    response = city_client.get("/")
    assert response["Content-Language"] == "ja"


def test_language_switch_remembers_english(city_client: Client) -> None:
    response = city_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = city_client.get("/")
    assert page["Content-Language"] == "en"
    body = page.content.decode()
    assert 'lang="en"' in body
    assert "Ageo City" in body


def test_a_browser_asking_for_english_gets_english(city_client: Client) -> None:
    page = city_client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page["Content-Language"] == "en"
