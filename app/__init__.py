"""BPTT Studio web application: FastAPI routes, pages and settings around the engine."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bptt-studio")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
