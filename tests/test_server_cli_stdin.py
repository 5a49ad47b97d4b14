"""``sambridge-server --exit-with-stdin``: a server started by another program ends when that program is gone."""

import subprocess
import sys
import time


def test_server_stops_when_its_stdin_closes(tiny_checkpoint, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "sambridge_server", "--port", "0", "--checkpoint", tiny_checkpoint,
         "--precision", "fp32", "--exit-with-stdin"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        line = b""
        while b"listening on" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line or process.poll() is None, "the server exited before listening"
        assert b"listening on" in line
        time.sleep(1.0)
        assert process.poll() is None  # an open stdin keeps it serving
        process.stdin.close()  # what a killed parent's pipe does
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
