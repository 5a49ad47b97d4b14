"""Models by name: a registry of downloadable checkpoints and a verified local model folder.

The registry is a JSON object mapping a model name to an entry::

    "vit_b_lm": {"model_type": "vit_b", "url": "https://...", "sha256": null, "xxh128": "fe92...",
                 "decoder_url": "https://...", "decoder_sha256": null, "decoder_xxh128": "708b..."}

The shipped registry (``data/model_registry.json``) lists Meta's SAM models and every model
micro_sam 1.8.14 publishes (``micro_sam.util.models()``), with micro_sam's URLs and digests.
micro_sam publishes xxh128 digests only, so those entries carry ``"sha256": null`` and an
``xxh128``; a registry of one's own (``--model-registry``) may give either or both. Every file
must have at least one digest: a file is never served unverified.

It also lists Meta's SAM2.1 checkpoints (092824 release on dl.fbaipublicfiles.com) under their
model types ``sam2.1_hiera_t`` / ``_s`` / ``_b+`` / ``_l``. Meta publishes no digest next to those
URLs; their ``sha256`` values are the Git LFS object ids of the same files on Hugging Face: tiny
and small as Meta's own repositories show them (facebook/sam2.1-hiera-tiny, -small), base_plus and
large as several independent mirrors agree on them (e.g. camenduru/sam2-1-hiera, whose tiny and
small ids equal Meta's). They were not checked against a download here (no internet on the build
machine); a file that differs is refused with both digests, never served. The loader then reads
the weights with ``weights_only=True`` and refuses keys or shapes that do not match the entry's
architecture.

Downloads stream into ``<file>.part`` and are renamed to ``<file>`` only once every given
digest matches; a leftover ``.part`` (a killed download) is never trusted: the next download
starts it over. Files in the model folder (downloaded or put there by hand) are verified
every time they are loaded. This module does no torch work: it only resolves names to files.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import xxhash

from .callbacks import StageProgressFn
from .errors import FailedPrecondition, InvalidInput, NotFound

log = logging.getLogger("sambridge.server.models")

SHIPPED_REGISTRY = Path(__file__).resolve().parents[1] / "data" / "model_registry.json"
DIGEST_ALGORITHMS = ("sha256", "xxh128")
CHUNK_BYTES = 1 << 20

ByteProgress = Callable[[int, int], None]
"""Download progress: ``(done_bytes, total_bytes)``; total is 0 when the server does not say."""
"""Progress of a whole fetch: ``(done, total, stage)``, e.g. stage ``"download vit_b_lm.pt"``."""


class DownloadError(FailedPrecondition):
    """A model file could not be downloaded or does not match its registry digest."""


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file: where it comes from, its digests and its local file name."""

    url: str
    digests: Mapping[str, str]
    filename: str


@dataclass(frozen=True)
class ZooEntry:
    """A registry model: its checkpoint and, for micro_sam models, the separate AIS decoder."""

    name: str
    model_type: str
    checkpoint: RemoteFile
    decoder: RemoteFile | None = None
    description: str = ""

    def files(self) -> list[RemoteFile]:
        """The files to fetch, checkpoint first."""
        return [self.checkpoint] + ([self.decoder] if self.decoder else [])


@dataclass(frozen=True)
class ModelFiles:
    """Local, verified files of a registry model."""

    checkpoint: Path
    decoder: Path | None


def _digests(raw: Mapping[str, Any], prefix: str, where: str) -> dict[str, str]:
    digests = {alg: str(raw[prefix + alg]).lower() for alg in DIGEST_ALGORITHMS if raw.get(prefix + alg)}
    if not digests:
        keys = " or ".join(prefix + alg for alg in DIGEST_ALGORITHMS)
        raise InvalidInput(f"{where} needs {keys} (files are never served unverified)")
    return digests


def parse_registry(raw: Any, source: str = "model registry") -> dict[str, ZooEntry]:
    """Validate a registry JSON object into entries (InvalidInput names the bad entry)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{source}: expected a JSON object of model entries")
    entries: dict[str, ZooEntry] = {}
    for name, item in raw.items():
        where = f"{source}: entry '{name}'"
        if not isinstance(item, Mapping) or not item.get("url") or not item.get("model_type"):
            raise InvalidInput(f"{where} needs at least 'url', 'sha256' and 'model_type'")
        decoder = None
        if item.get("decoder_url"):
            decoder = RemoteFile(item["decoder_url"], _digests(item, "decoder_", where), f"{name}_decoder.pt")
        entries[name] = ZooEntry(
            name=name, model_type=str(item["model_type"]),
            checkpoint=RemoteFile(item["url"], _digests(item, "", where), f"{name}.pt"),
            decoder=decoder, description=str(item.get("description", "")),
        )
    return entries


def load_registry(path: str | Path | None = None) -> dict[str, ZooEntry]:
    """Read a registry file (default: the shipped one)."""
    path = Path(path) if path else SHIPPED_REGISTRY
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InvalidInput(f"cannot read model registry '{path}': {error}") from error
    return parse_registry(raw, f"model registry '{path}'")


def default_model_dir() -> Path:
    """Where downloaded models live: ``$SAMBRIDGE_HOME/models`` or the user's cache folder."""
    if os.environ.get("SAMBRIDGE_HOME"):
        return Path(os.environ["SAMBRIDGE_HOME"]) / "models"
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("sambridge")) / "models"
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "sambridge" / "models"


def _hashers(algorithms) -> dict[str, Any]:
    return {alg: (xxhash.xxh128() if alg == "xxh128" else hashlib.new(alg)) for alg in algorithms}


def _mismatches(hashers: Mapping[str, Any], expected: Mapping[str, str]) -> list[str]:
    return [f"expected {alg} {want}, got {hashers[alg].hexdigest()}"
            for alg, want in expected.items() if hashers[alg].hexdigest() != want]


def _by_hand(remote: RemoteFile, target: Path) -> str:
    return f"download {remote.url} by hand and save it as {target}"


def download(remote: RemoteFile, target: Path, progress: ByteProgress | None = None,
             timeout: float = 60.0) -> Path:
    """Download ``remote`` to ``target`` via ``target.part``; rename only once its digests match.

    Raises DownloadError when the URL cannot be reached (the message names the URL and where to
    put the file by hand) or when the bytes do not match (expected and actual digest). An
    exception raised by ``progress`` aborts the download. Nothing but a verified file is ever
    left at ``target``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    part.unlink(missing_ok=True)  # a leftover from a killed download is never trusted
    hashers = _hashers(remote.digests)
    done = 0
    try:
        request = urllib.request.Request(remote.url, headers={"User-Agent": "sambridge-server"})
        with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            if progress is not None:
                progress(0, total)
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                for hasher in hashers.values():
                    hasher.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        if total and done != total:
            raise DownloadError(f"download of {remote.url} stopped after {done} of {total} bytes; "
                                f"try again, or {_by_hand(remote, target)}")
    except urllib.error.URLError as error:
        part.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise DownloadError(f"cannot download {remote.url} ({reason}); if this machine is offline, "
                            f"{_by_hand(remote, target)}") from error
    except (OSError, http.client.HTTPException) as error:
        part.unlink(missing_ok=True)
        raise DownloadError(f"download of {remote.url} failed after {done} bytes ({type(error).__name__}: "
                            f"{error}); try again, or {_by_hand(remote, target)}") from error
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    bad = _mismatches(hashers, remote.digests)
    if bad:
        part.unlink(missing_ok=True)
        raise DownloadError(f"download of {remote.url} is corrupted ({'; '.join(bad)}); the file was "
                            "discarded. Try again, or check the registry entry")
    os.replace(part, target)
    return target


def verify_file(path: Path, remote: RemoteFile, progress: ByteProgress | None = None) -> None:
    """Check a local file against its registry digests (DownloadError with expected and actual)."""
    hashers = _hashers(remote.digests)
    total, done = path.stat().st_size, 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES * 8):
            for hasher in hashers.values():
                hasher.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    bad = _mismatches(hashers, remote.digests)
    if bad:
        raise DownloadError(f"model file {path} does not match its registry entry ({'; '.join(bad)}); "
                            f"delete it to download it again, or {_by_hand(remote, path)}")


def log_progress(label: str, every_s: float = 2.0) -> ByteProgress:
    """A ByteProgress that logs ``label`` at INFO at most every ``every_s`` seconds (and at the end)."""
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < every_s and done != total:
            return
        last[0] = now
        if total:
            log.info("%s: %.1f / %.1f MB (%.0f%%)", label, done / 1e6, total / 1e6, 100 * done / total)
        else:
            log.info("%s: %.1f MB", label, done / 1e6)

    return report


@dataclass
class ModelZoo:
    """Registry models resolved to verified files in ``model_dir`` (downloaded when missing)."""

    registry: dict[str, ZooEntry]
    model_dir: Path
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def entry(self, name: str) -> ZooEntry:
        """The registry entry called ``name``; NotFound lists the known names."""
        if name not in self.registry:
            raise NotFound(f"unknown model '{name}'; available models: {', '.join(sorted(self.registry)) or 'none'}")
        return self.registry[name]

    def is_downloaded(self, name: str) -> bool:
        """True when every file of ``name`` is in the model folder (verified when loaded)."""
        return all((self.model_dir / f.filename).is_file() for f in self.entry(name).files())

    def fetch(self, name: str, progress: StageProgressFn | None = None) -> ModelFiles:
        """Local verified files of ``name``, downloading the missing ones (one fetch per name at a time)."""
        entry = self.entry(name)
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            paths = [self._ensure(remote, progress) for remote in entry.files()]
        return ModelFiles(checkpoint=paths[0], decoder=paths[1] if len(paths) > 1 else None)

    def _ensure(self, remote: RemoteFile, progress: StageProgressFn | None) -> Path:
        target = self.model_dir / remote.filename
        downloading = not target.is_file()
        stage = f"{'download' if downloading else 'verify'} {remote.filename}"
        logged = log_progress(stage)

        def report(done: int, total: int) -> None:
            logged(done, total)
            if progress is not None:
                progress(done, total, stage)

        if downloading:
            log.info("downloading %s to %s", remote.url, target)
            download(remote, target, report)
        else:
            verify_file(target, remote, report)
        log.info("%s: %s verified", target, ", ".join(remote.digests))
        return target
