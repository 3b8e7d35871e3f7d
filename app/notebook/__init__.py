"""BPTT Studio in a notebook cell: the widget (widget.py) and how the page's modules are linked
inside it (jslink.py).

    from bptt_studio.notebook import Studio
"""

from bptt_studio.notebook.widget import Studio

__all__ = ["Studio"]
