"""The pages' words in each language they are written in: English, German and French.

Each page module keeps its own table, ``{language: {key: text}}``; a key missing in a
language falls back to English, and a key missing in English is an error a test finds
(``tests/test_web_pages.py`` checks every table has every key in every language).
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = {"en": "English", "de": "Deutsch", "fr": "Français"}
Table = Mapping[str, Mapping[str, str]]

#: Words of the layout every page shares.
COMMON: Table = {
    "en": {
        "skip": "Skip to the content",
        "language": "Language",
        "footer": "Complaints handled with ombuds",
        "problem": "Something needs your attention",
    },
    "de": {
        "skip": "Zum Inhalt springen",
        "language": "Sprache",
        "footer": "Beschwerdebearbeitung mit ombuds",
        "problem": "Bitte prüfen Sie Folgendes",
    },
    "fr": {
        "skip": "Aller au contenu",
        "language": "Langue",
        "footer": "Réclamations traitées avec ombuds",
        "problem": "Un point requiert votre attention",
    },
}


class Texts(dict[str, str]):
    """A language's words; ``t.key`` or ``t["key"]``."""

    def __getattr__(self, name: str) -> str:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no text {name!r}") from None


def texts(language: str, *tables: Table) -> Texts:
    words = Texts()
    for table in (COMMON, *tables):
        words.update(table["en"])
        words.update(table.get(language, {}))
    return words
