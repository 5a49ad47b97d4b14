"""``torch.compile`` of the image encoder (``--compile``), compiled and warmed up before serving.

Compilation fuses the encoder's elementwise work around the matmuls and attention; on a GPU it
is the usual first step beyond bf16. It costs a compile per model (seconds for a tiny model,
minutes for vit_h) and one more per new batch size or precision, so the server compiles at
start (``warm_up``) rather than at a user's first call. A compiled forward is not stopped
between its layers by a cancel (``interrupt`` skips its hooks while compiling): a cancelled
embedding stops at the next tile.
"""

from __future__ import annotations

import functools
import time
from typing import Callable

import torch

from .encoder import AttentionKind, encode

EncoderForward = Callable[[torch.Tensor], torch.Tensor]
"""``(B, 3, S, S) preprocessed input -> (B, 256, 64, 64) features``."""


def compile_encoder(image_encoder: torch.nn.Module, attention: AttentionKind = "sdpa") -> EncoderForward:
    """The encoder's forward (``encoder.encode``) compiled by ``torch.compile`` on first call."""
    return torch.compile(functools.partial(encode, image_encoder, attention=attention))


def warm_up(forward: Callable[[torch.Tensor, str], object], image_size: int, device: torch.device | str,
            precision: str) -> float:
    """Run ``forward(batch, precision)`` once on a zero image (compiling it); return the seconds taken."""
    start = time.perf_counter()
    forward(torch.zeros(1, 3, image_size, image_size, device=device), precision)
    return time.perf_counter() - start
