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
    code = ("import sys, importlib, pkgutil, sambridge_server.engine as e\n"
            "for m in pkgutil.iter_modules(e.__path__): importlib.import_module('sambridge_server.engine.' + m.name)\n"
            "assert 'grpc' not in sys.modules, 'engine imported grpc'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
