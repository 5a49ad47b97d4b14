"""The committed gRPC stubs are exactly what protos/generate.py produces."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_stubs_are_fresh():
    pytest.importorskip("grpc_tools")
    result = subprocess.run([sys.executable, str(REPO / "protos" / "generate.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_client_does_not_import_torch():
    code = "import sys, sambridge, sambridge.client, sambridge.cli, sambridge.wire; assert 'torch' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_engine_does_not_import_grpc():
    """Every engine module, subpackages included, imports without pulling in grpc or protobuf."""
    code = ("import sys, importlib, pkgutil, sambridge_server.engine as e\n"
            "names = [m.name for m in pkgutil.walk_packages(e.__path__, 'sambridge_server.engine.')]\n"
            "for name in names: importlib.import_module(name)\n"
            "assert any('.prompts.' in n for n in names) and any('.training.' in n for n in names), names\n"
            "bad = [m for m in ('grpc', 'google.protobuf', 'sambridge') if m in sys.modules]\n"
            "assert not bad, f'engine imported {bad}'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
