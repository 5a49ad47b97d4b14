"""Stopping long torch computations between layers once their work is abandoned.

A forward pass of the AIS decoder over a 1024-px window takes seconds on a CPU, and a loop that
checks for cancellation between tiles cannot stop it. ``interruptible(module)`` makes every
submodule check, before and after it runs, the check that the running thread installed with
``stops_when(check)``: when it turns True, the pass ends with Cancelled at the next layer. Other
threads, and code that installed no check, run the same module unaffected.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import torch

from .errors import Cancelled

_local = threading.local()
_MARK = "_sambridge_interruptible"


def _check(*_args) -> None:
    """Forward hook: raise Cancelled if this thread's installed check says the work was abandoned."""
    if torch.compiler.is_compiling():  # a compiled forward has no hooks (they would split its graph)
        return
    check = getattr(_local, "check", None)
    if check is not None and check():
        raise Cancelled("every caller waiting for this computation has cancelled")


def interruptible(module: torch.nn.Module) -> torch.nn.Module:
    """Give every submodule of ``module`` the cancellation check (once); returns ``module``."""
    for sub in module.modules():
        if not getattr(sub, _MARK, False):
            sub.register_forward_pre_hook(_check)
            sub.register_forward_hook(_check)
            setattr(sub, _MARK, True)
    return module


@contextmanager
def stops_when(check: Callable[[], bool]) -> Iterator[None]:
    """Within the block, interruptible modules run by this thread stop once ``check()`` is True."""
    previous = getattr(_local, "check", None)
    _local.check = check
    try:
        yield
    finally:
        _local.check = previous


def interruptible_model(model):
    """``model`` (a LoadedModel) with every layer of its SAM checking the running thread's cancellation (once)."""
    interruptible(model.sam)
    return model
