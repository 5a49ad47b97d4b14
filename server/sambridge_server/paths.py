"""Confinement of client-given server-side paths to configured roots."""

from __future__ import annotations

from pathlib import Path

from sambridge_server.engine.errors import InvalidInput, NotFound


def confine(path: str, roots: list[Path], what: str = "path") -> Path:
    """Resolve ``path`` inside one of ``roots`` (symlinks resolved); refuse escapes.

    A relative path is taken relative to each root in turn. Raises InvalidInput
    for a path outside every root (``..``, absolute elsewhere, symlink escape)
    and NotFound if it does not exist.
    """
    if not roots:
        raise InvalidInput(f"the server has no {what} roots configured; server-side paths are disabled")
    if not path or "\x00" in path:
        raise InvalidInput(f"empty or invalid {what}")
    for root in roots:
        root = root.resolve()
        candidate = Path(path) if Path(path).is_absolute() else root / path
        try:
            resolved = candidate.resolve()
            exists = resolved.exists()
        except OSError as err:  # e.g. a name longer than the file system allows
            raise InvalidInput(f"invalid {what} {path[:100]!r}: {err.strerror}") from None
        if resolved == root or root in resolved.parents:
            if not exists:
                raise NotFound(f"{what} {path!r} does not exist")
            return resolved
    raise InvalidInput(f"{what} {path!r} is outside the allowed roots")
