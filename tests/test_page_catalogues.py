"""The page's message catalogues: same keys in every language, every key the page uses exists.

Browser-free; the browser tests check what is actually on screen (test_page_studio.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.registries import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
I18N = ROOT / "static" / "js" / "i18n"
LANGS = LANGUAGES
KEY_LINE = re.compile(r'^\s*"([^"]+)":\s*"((?:[^"\\]|\\.)*)",?\s*$')


PARTS = ["", ".article"]  # i18n/<lang>.js and the part loaded later, i18n/<lang>.article.js


def catalogue(lang: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for part in PARTS:
        for line in (I18N / f"{lang}{part}.js").read_text(encoding="utf-8").splitlines():
            match = KEY_LINE.match(line)
            if match:
                assert match.group(1) not in entries, f"{lang}: duplicate key {match.group(1)}"
                entries[match.group(1)] = match.group(2)
    return entries


# The cells the page draws: one page module each (tests/test_architecture.py holds that every
# cell the engine registers has one); the template names their menu entries' keys by a loop.
PAGE_CELLS = sorted(path.stem for path in (ROOT / "static/js/cells").glob("*.js")
                    if path.stem != "index")
TEMPLATE_CELL = "{{ cell }}"


def keys_used() -> set[str]:
    """Keys named literally in the templates and in the modules (data-i18n*, tr("...")), in
    every folder of static/js but the catalogues; a template key made in the loop over the
    cells stands for each cell's key."""
    used: set[str] = set()
    for path in (ROOT / "templates").glob("*.html"):
        template = path.read_text(encoding="utf-8")
        for key in re.findall(r'data-i18n(?:-aria|-title|-placeholder)?="([^"]+)"', template):
            used |= ({key.replace(TEMPLATE_CELL, cell) for cell in PAGE_CELLS}
                     if TEMPLATE_CELL in key else {key})
    for path in (ROOT / "static" / "js").rglob("*.js"):
        if path.parent == I18N:
            continue
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\btr\("([a-zA-Z0-9_.-]+)"', text))
        used |= {f"{k}.other" for k in re.findall(r'\btp\("([a-zA-Z0-9_.-]+)"', text)}
        used |= set(re.findall(r'i18n(?:Aria|Title)? = "([a-zA-Z0-9_.-]+)"', text))
        used |= set(re.findall(r'"((?:timeline|net|eq|hm|charts|error|status|ctl|check|share|pred'
                               r'|view|legend)\.[a-zA-Z0-9_.]+)"', text))
    return used


# Plural messages are key.one, key.few, key.many, key.other (i18n.js tp()): each language has
# the forms its plural rules (CLDR, as Intl.PluralRules applies them) use for whole counts.
PLURAL = re.compile(r"^(.+)\.(one|few|many|other)$")
PLURAL_FORMS = {"en": {"one", "other"}, "pt-BR": {"one", "other"},
                "ru": {"one", "few", "many", "other"}}


def singular_keys(entries: dict[str, str]) -> set[str]:
    """The keys with every plural message counted once, as its base key."""
    return {m.group(1) if (m := PLURAL.match(k)) else k for k in entries}


def test_english_catalogue_is_not_empty():
    assert len(catalogue("en")) > 150


@pytest.mark.parametrize("lang", LANGS)
def test_article_texts_live_in_the_article_part(lang):
    text = (I18N / f"{lang}.article.js").read_text(encoding="utf-8")
    assert '"article.p1"' in text
    assert '"article.' not in (I18N / f"{lang}.js").read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["pt-BR", "ru"])
def test_catalogue_has_exactly_the_english_keys(lang):
    en, other = singular_keys(catalogue("en")), singular_keys(catalogue(lang))
    assert sorted(en - other) == [], f"{lang} misses keys"
    assert sorted(other - en) == [], f"{lang} has keys English lacks"


@pytest.mark.parametrize("lang", LANGS)
def test_plural_messages_have_every_form_of_the_language(lang):
    entries = catalogue(lang)
    bases = {m.group(1) for k in entries if (m := PLURAL.match(k))}
    assert {"ctl.trained", "pred.caption"} <= bases
    for base in bases:
        forms = {m.group(2) for k in entries if (m := PLURAL.match(k)) and m.group(1) == base}
        assert forms == PLURAL_FORMS[lang], (base, forms)
        assert all("{n}" in entries[f"{base}.{f}"] for f in forms)


@pytest.mark.parametrize("lang", LANGS)
def test_catalogue_has_every_key_the_page_uses(lang):
    entries = catalogue(lang)
    # a key the code completes itself (`${key}.title`) must be the prefix of real keys
    missing = sorted(k for k in keys_used()
                     if k not in entries and not any(e.startswith(k + ".") for e in entries))
    assert missing == []


@pytest.mark.parametrize("lang", ["pt-BR", "ru"])
def test_translations_keep_the_placeholders(lang):
    en, other = catalogue("en"), catalogue(lang)
    for key, text in en.items():
        if key not in other:  # a plural form the language does not use
            continue
        assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", other[key])), key


@pytest.mark.parametrize("lang", ["pt-BR", "ru"])
def test_translations_are_translated(lang):
    """Most texts differ from English (names, symbols and short labels may stay)."""
    en, other = catalogue("en"), catalogue(lang)
    symbolic = {"charts.jacobian.hover"}  # "t = %{y}, k = %{x}: %{text}" reads the same everywhere
    same = [k for k, v in en.items() if other.get(k) == v and len(v) > 12 and k not in symbolic
            and not k.startswith(("lang.", "nota.", "preset.", "ctl.opt.", "ctl.cell."))]
    assert same == []


def test_preset_keys_cover_the_engine_presets():
    from bptt_studio.engine import PRESETS

    entries = catalogue("en")
    for preset_id in PRESETS:
        assert f"preset.{preset_id}.title" in entries
        assert f"preset.{preset_id}.description" in entries
