"""Which numeric precision the encoder and the AIS decoder run in on a given device.

bfloat16 pays only where the hardware computes it: CUDA GPUs, and CPUs with AVX512-BF16 or
AMX-BF16 instructions. Elsewhere PyTorch emulates it (oneDNN reports bf16 "supported" on any
AVX512 CPU) and it is slower than float32: on a 2-core Ice Lake Xeon (AVX512, no BF16) the
vit_b encoder took 19.4 s in bf16 against 10.2 s in fp32 (bench/bench_embeddings.py).
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where /proc/cpuinfo does not exist)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 in hardware (not emulated)."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(cpu_flags() & _BF16_CPU_FLAGS)
    return False


def resolve_precision(requested: str, device: torch.device | str) -> str:
    """``"auto"`` -> ``"bf16"`` where the device has native bf16, else ``"fp32"``; others unchanged."""
    if requested == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return requested
