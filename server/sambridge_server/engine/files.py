"""Opening files a client named, without races: open once, then check what was opened.

A path checked and then opened can be swapped in between (a symlink put in place of a file or
folder). Here the file is opened first, without blocking (a FIFO or device never stalls the
server), and then the open descriptor is checked: a regular file, lying inside ``root`` by the
kernel's own account of it (``/proc/self/fd``). Everything after works on that descriptor.
"""

from __future__ import annotations

import os
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import InvalidInput, NotFound


def open_confined(path: str | Path, root: str | Path) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file inside ``root`` (symlinks may not leave it)."""
    path, root = Path(path), Path(root).resolve()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise InvalidInput(f"cannot open {path.name!r}: {err.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidInput(f"{path.name!r} is not a regular file (a FIFO, device or folder is refused)")
        opened = _opened_path(fd, path)
        if opened != root and root not in opened.parents:
            raise InvalidInput(f"{path.name!r} leads outside its folder (a symlink to {opened.name!r} is refused)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _opened_path(fd: int, path: Path) -> Path:
    """Where the descriptor really points (Linux: /proc; elsewhere the resolved path)."""
    proc = Path(f"/proc/self/fd/{fd}")
    if proc.exists():
        return Path(os.readlink(proc))
    return path.resolve()


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
        root = Path(root).resolve()
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


@contextmanager
def atomic_path(path: str | Path, keep_suffix: bool = False) -> Iterator[Path]:
    """A temporary file next to ``path`` to write; it replaces ``path`` when the block succeeds.

    Readers see the old file or the new one, never a half-written one (a crash leaves the old).
    The temporary name is unique per process and thread and ends in ``.tmp`` (so leftovers of a
    crash are easy to find), or, with ``keep_suffix``, in ``path``'s suffix for writers that infer
    a format from it (matplotlib).
    """
    path = Path(path)
    unique = f"{os.getpid()}.{threading.get_ident()}"
    tmp = path.with_name(f".{path.stem}.{unique}.tmp{path.suffix}" if keep_suffix else f"{path.name}.{unique}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` atomically (see ``atomic_path``)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
        handle.flush()
        os.fsync(handle.fileno())  # on disk before the rename publishes it (a power cut keeps old or new)
