"""A loopback HTTP file server for download tests (127.0.0.1 only, never the internet)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class LoopbackFiles:
    """Files served at ``base_url + "/" + name``; ``truncate[name] = n`` closes the connection after n bytes."""

    files: dict[str, bytes] = field(default_factory=dict)
    truncate: dict[str, int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    base_url: str = ""

    def url(self, name: str) -> str:
        """URL of a served file."""
        return f"{self.base_url}/{name}"


def serve_files() -> tuple[LoopbackFiles, ThreadingHTTPServer]:
    """Start the server in a daemon thread; stop it with ``server.shutdown()``."""
    state = LoopbackFiles()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            name = self.path.lstrip("/")
            state.requests.append(name)
            if name not in state.files:
                self.send_error(404)
                return
            data = state.files[name]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            cut = state.truncate.get(name)
            self.wfile.write(data if cut is None else data[:cut])
            if cut is not None:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server


def sha256(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def closed_port_url(name: str = "model.pt") -> str:
    """A 127.0.0.1 URL nobody listens on (the offline case)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def write_registry(path: Path, entries: dict) -> Path:
    """Write a registry JSON file."""
    path.write_text(json.dumps(entries, indent=1))
    return path
