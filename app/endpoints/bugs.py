"""GET /api/v1/bugs: the bug catalogue (engine.bugs) in the request's language.

The language is ``?lang=`` when given, else the first of the Accept-Language header's
languages (by quality) that has texts, else English. The texts (a title, a summary and the
kind of source of every bug) live in ``bug_texts.json`` beside this module, one block per
language; the lines, their equations and the scenarios are the engine's.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from bptt_studio.core import jsonio
from bptt_studio.core.errors import ApiError
from bptt_studio.engine.request import bugs

TEXTS = Path(__file__).with_name("bug_texts.json")
DEFAULT_LANGUAGE = "en"


@cache
def texts() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(TEXTS.read_text(encoding="utf-8"))
    return loaded


def languages() -> list[str]:
    return list(texts())


def language_of(lang: str | None, accept: str | None) -> str:
    """The catalogue's language: ``lang`` when it has texts, else Accept-Language's best
    match (an exact tag, then its primary subtag: "pt" and "pt-PT" read pt-BR), else
    English."""
    known = languages()
    if lang in known:
        return str(lang)
    wanted: list[tuple[float, int, str]] = []
    for order, part in enumerate((accept or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            wanted.append((-quality, order, tag.strip()))
    for _, _, tag in sorted(wanted):
        exact = next((k for k in known if k.lower() == tag.lower()), None)
        primary = next((k for k in known if k.split("-")[0].lower() ==
                        tag.split("-")[0].lower()), None)
        if exact or primary:
            return str(exact or primary)
    return DEFAULT_LANGUAGE


def catalogue(lang: str) -> dict[str, Any]:
    """The catalogue with its texts in ``lang`` (one of ``languages()``)."""
    block = texts()[lang]
    entries = []
    for entry in bugs.catalogue():
        words = block["bugs"][entry["id"]]
        entries.append({**entry, "title": words["title"], "summary": words["summary"],
                        "source_text": block["sources"][entry["source"]]})
    return {"lang": lang, "lines": bugs.LINES, "bugs": entries}


class BugLine(BaseModel):
    line: str = Field(description="the line of the cell's backward pass (a key of lines[cell])")
    correct: str
    bugged: str


class BugRequirement(BaseModel):
    field: str
    accepted: list[Any]
    cells: list[str]


class BugEntry(BaseModel):
    id: str = Field(description="the request's bug")
    title: str
    summary: str
    source: str = Field(description="the kind of source where the mistake is seen (English "
                                    "key: tutorial repository, course question, ...)")
    source_text: str = Field(description="that kind of source, in the catalogue's language")
    cells: list[str]
    lines: dict[str, BugLine] = Field(description="per cell: the one line it changes")
    scenario: dict[str, Any] = Field(description="a request on which the gradient check "
                                                 "catches it")
    requires: list[BugRequirement] = Field(description="settings it needs, else 422")


class BugCatalogue(BaseModel):
    lang: str
    lines: dict[str, dict[str, str]] = Field(
        description="per cell, the lines of its backward pass in the order a step computes "
                    "them: {line: equation}")
    bugs: list[BugEntry]


async def bug_catalogue(request: Request, lang: str | None = Query(
        None, description="en, pt-BR or ru; default: from Accept-Language, else en")
        ) -> Response:
    if lang is not None and lang not in languages():
        raise ApiError(422, ("query", "lang"), f"must be one of {', '.join(languages())}; "
                                               f"got {lang!r}", "enum")
    chosen = language_of(lang, request.headers.get("accept-language"))
    response = jsonio.response(jsonio.dumps(catalogue(chosen)))
    response.headers["Content-Language"] = chosen
    response.headers["Vary"] = "Accept-Language"
    return response
