"""Confinement of client-given server-side paths to configured roots.

The rule lives in the engine (``engine.files.confine``), which also confines the files a batch
job discovers in folders and globs; this module keeps the name the servicers import.
"""

from __future__ import annotations

from sambridge_server.engine.files import confine

__all__ = ["confine"]
