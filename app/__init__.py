"""BPTT Studio web application: FastAPI routes, pages and settings around the engine.

The folders, bottom up: core/ (settings, errors, JSON, paths: what every part shares),
serving/ (the machinery that serves any request: compute processes, limits, protocol, body,
cache, security, the memory bound), endpoints/ (the registry of the API's endpoints and each
endpoint's work), pages/ (the page), notebook/ (the widget), rooms/ (classrooms). Here, only
the wiring: main.py (the app) and cli.py (the ``bptt-studio`` command).
"""

from bptt_studio.core.version import __version__

__all__ = ["__version__"]
