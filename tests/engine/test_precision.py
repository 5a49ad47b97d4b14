"""'auto' precision: bf16 only where the device computes it in hardware."""

from pathlib import Path

import torch

from sambridge_server.engine import precision


def _flags(monkeypatch, flags: set[str]) -> None:
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(flags))


def test_auto_is_fp32_on_a_cpu_that_would_emulate_bf16(monkeypatch):
    _flags(monkeypatch, {"avx2", "avx512f", "avx512bw", "avx512_vnni"})  # Ice Lake: oneDNN says "bf16 supported"
    assert precision.resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert precision.resolve_precision("auto", "cpu") == "fp32"  # as the server's resolve_device gives it


def test_auto_is_bf16_on_a_cpu_with_bf16_instructions(monkeypatch):
    for flag in ("avx512_bf16", "amx_bf16"):
        _flags(monkeypatch, {"avx512f", flag})
        assert precision.resolve_precision("auto", torch.device("cpu")) == "bf16"


def test_an_explicit_precision_is_kept(monkeypatch):
    _flags(monkeypatch, set())
    assert precision.resolve_precision("bf16", torch.device("cpu")) == "bf16"
    _flags(monkeypatch, {"amx_bf16"})
    assert precision.resolve_precision("fp32", torch.device("cpu")) == "fp32"


def test_cpu_flags_are_read_from_the_kernel():
    flags = precision.cpu_flags()
    if Path("/proc/cpuinfo").exists():
        assert "fpu" in flags or "fp" in flags  # x86 lists fpu, arm64 lists fp
    else:
        assert flags == frozenset()
