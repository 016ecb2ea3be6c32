"""The version of livecd-tools: shown by every tool's --tool-version and part of the incremental cache key, so
that a tree a newer library would install differently is not reused."""

__version__ = "32.0"
