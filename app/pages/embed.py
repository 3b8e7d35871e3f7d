"""The studio embedded in another site's page: ``/?embed=1&hide=charts,equation``.

``embed=1`` drops the page's header, its sidebar of controls and its footer (a course page
around the frame has its own); ``hide=`` names panels to leave out, with or without embed, as
TensorFlow Playground's flags do. The page carries both on ``<body>`` (data-embed,
data-hide), where its style sheet reads them: nothing is removed, so every module finds the
elements it wires. A name that is not a panel, or an embed value that is neither on nor off,
is said on the page (the rest of the link still applies). Which sites may frame the page at
all is a setting (BPTT_FRAME_ANCESTORS, app/serving/security.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass

# The panels hide= may name, in the order the page shows them.
PANELS = ("timeline", "network", "equation", "accumulators", "charts", "article")
ON = ("1", "true")
OFF = ("", "0", "false")


@dataclass(frozen=True)
class EmbedView:
    embed: bool
    hidden: tuple[str, ...]  # panels, in PANELS' order
    unknown: tuple[str, ...]  # what the link asked for that is not a flag's value

    @property
    def hide_attr(self) -> str:
        """The panels as <body data-hide> holds them (CSS matches one with ~=)."""
        return " ".join(self.hidden)


def embed_view(query: Mapping[str, str]) -> EmbedView:
    """The embed flags of a page's query string."""
    flag = query.get("embed", "").strip().lower()
    unknown = [] if flag in ON + OFF else [f"embed={query['embed']}"]
    names = [n.strip().lower() for n in query.get("hide", "").split(",") if n.strip()]
    unknown += [n for n in names if n not in PANELS]
    hidden = tuple(p for p in PANELS if p in names)
    return EmbedView(embed=flag in ON, hidden=hidden, unknown=tuple(dict.fromkeys(unknown)))
