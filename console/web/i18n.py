"""The pages' languages: Vietnamese and English, from Babel (gettext) catalogues shipped in the package.

The templates are written in English; `locale/vi/LC_MESSAGES/console.po` translates them.
The catalogues are read with Babel when the console starts (no compile step), and
each language gets its own Jinja2 environment with its translations installed.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, PackageLoader, select_autoescape

from customs.timestamps import as_utc

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}
DEFAULT = "vi"
DOMAIN = "console"


def catalogue_path(language: str) -> resources.abc.Traversable:
    return resources.files("console.web") / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def translations(language: str) -> NullTranslations:
    """The language's translations; English is the templates' own text."""
    path = catalogue_path(language)
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@functools.cache
def environment(language: str) -> Environment:
    """A Jinja2 environment for `language`: every value escaped, the catalogue's gettext installed."""
    env = Environment(
        loader=PackageLoader("console.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = when
    return env


def when(moment: dt.datetime | None) -> str:
    """A moment as the pages show it: UTC, to the second."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"


def chosen(cookie: str | None) -> str:
    return cookie if cookie in LANGUAGES else DEFAULT
