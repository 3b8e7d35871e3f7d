"""The page's own ES modules, readied for a host that loads one file from a blob: URL.

A notebook widget (anywidget) is one JavaScript file that its host imports from a ``blob:``
URL, where ``"./network.js"`` resolves to nothing. So the widget's entry
(static/js/notebook/notebook.js) is handed the page's modules as text, the ones its view
reaches, and makes each a ``blob:`` module of its own. What that needs is worked out here,
once, in Python:

- the closure: every module reached from the view by static imports (``import ... from
  "./x.js"``, ``export ... from``, ``import "./x.js"``) and dynamic ones (``import("./x.js")``,
  and a template such as ``import(`./i18n/${lang}.js`)`` reaches every file it can name);
- the order: a module after every module it imports statically (its ``blob:`` URL must exist
  before its own text is written), so the static imports may not form a cycle;
- the text: each static specifier written as ``"bptt-module:<path>"``, which the entry
  replaces by that module's ``blob:`` URL, and each ``import(`` as a call of the entry's
  resolver with the importing module's own URL, which resolves the path relative to it.

Nothing is bundled or minified: the modules run as the page runs them, from the package's
static/js (the wheel carries it).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

# A static import's specifier, relative to its module: from "./x.js", import "./x.js".
STATIC = re.compile(r"""(\bfrom\s*|\bimport\s*)(["'])(\.{1,2}/[^"'\n]+)\2""")
# A dynamic import's call, and its argument when that is a string or a template.
DYNAMIC = re.compile(r"\bimport\(")
DYNAMIC_TARGET = re.compile(r"""\bimport\(\s*(["'`])(\.{1,2}/[^"'`\n]+)\1\s*\)""")
PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
TOKEN = "bptt-module:"
# What a dynamic import becomes: the entry's resolver (static/js/notebook/notebook.js), given
# the URL of the module that imports, so that "./x.js" resolves relative to it.
RESOLVER = 'globalThis[Symbol.for("bptt-studio.import")](import.meta.url, '


@dataclass(frozen=True)
class Linked:
    """Modules in an order where each comes after what it imports statically."""

    modules: tuple[tuple[str, str], ...]  # (path under static/js, rewritten text)
    version: str  # a digest of the texts: the entry links each version once per page

    def paths(self) -> list[str]:
        return [path for path, _ in self.modules]


def _resolve(importer: str, specifier: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(importer), specifier))


def static_imports(path: str, text: str) -> list[str]:
    """The modules ``path`` imports statically, as paths under the same root."""
    return [_resolve(path, m.group(3)) for m in STATIC.finditer(text)]


def dynamic_imports(path: str, text: str, available: list[str]) -> list[str]:
    """The modules ``path`` may import dynamically: a string names one; a template every
    available path it can spell (each ``${...}`` standing for any part of a file name)."""
    found: list[str] = []
    for match in DYNAMIC_TARGET.finditer(text):
        spec = match.group(2)
        if match.group(1) == "`" and PLACEHOLDER.search(spec):
            parts = PLACEHOLDER.split(_resolve(path, spec))
            pattern = re.compile("[^/]*".join(re.escape(part) for part in parts))
            found += [p for p in available if pattern.fullmatch(p)]
        else:
            found.append(_resolve(path, spec))
    return found


def link(root: Path, entry: str) -> Linked:
    """The closure of ``entry`` (a path under ``root``), ordered and rewritten for the entry's
    loader. FileNotFoundError for an import of a module that is not there; ValueError for a
    cycle of static imports."""
    available = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.js"))
    texts: dict[str, str] = {}
    ordered: list[str] = []
    visiting: list[str] = []

    def visit(path: str, importer: str | None) -> None:
        if path in ordered:
            return
        if path in visiting:
            cycle = " -> ".join([*visiting[visiting.index(path):], path])
            raise ValueError(f"static imports form a cycle, which blob: modules cannot link: "
                             f"{cycle}")
        file = root / path
        if not file.is_file():
            raise FileNotFoundError(f"{importer or 'the entry'} imports {path}, which is not "
                                    f"in {root}")
        text = texts[path] = file.read_text(encoding="utf-8")
        visiting.append(path)
        for target in static_imports(path, text):
            visit(target, path)
        visiting.pop()
        ordered.append(path)
        for target in dynamic_imports(path, text, available):
            visit(target, path)

    visit(entry, None)
    modules = tuple((path, rewrite(path, texts[path])) for path in ordered)
    digest = hashlib.sha256()
    for path, text in modules:
        digest.update(f"{path}\0{text}\0".encode())
    return Linked(modules=modules, version=digest.hexdigest()[:16])


def rewrite(path: str, text: str) -> str:
    """The module's text with its static specifiers as tokens and its dynamic imports through
    the entry's resolver."""
    text = STATIC.sub(lambda m: f"{m.group(1)}{m.group(2)}{TOKEN}{_resolve(path, m.group(3))}"
                                f"{m.group(2)}", text)
    return DYNAMIC.sub(RESOLVER, text)
