"""glibc malloc settings that let a process reuse freed tensor memory instead of unmapping it.

PyTorch allocates CPU tensors with malloc. glibc serves blocks above 32 MB with fresh ``mmap``s
(and gRPC worker threads get arenas that do so for anything over 64 MB) and returns them to the
kernel on ``free``, so every 256-MB activation of the AIS decoder is page-faulted and zeroed
again: on a 2-core machine that was ~40% of the demo's CPU time (sys 73 s of 181 s). One arena,
no mmap below 1 GB and no trimming below 2 GB keep freed blocks for reuse (sys 4 s).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_SETTINGS = ((_M_ARENA_MAX, 1), (_M_MMAP_THRESHOLD, 1 << 30), (_M_TRIM_THRESHOLD, 2**31 - 1))


def reuse_freed_memory() -> bool:
    """Apply the settings (Linux with glibc only; call before worker threads start).

    Returns True when applied. The price: the process keeps up to its peak heap after big
    computations instead of returning it to the system.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
    return all(mallopt(option, value) == 1 for option, value in _SETTINGS)
