"""Background jobs that outlive the calls that start them: one queue, one worker thread, one file each.

Each job lives in ``<directory>/<job_id>/job.json`` (its record, rewritten atomically on every
change). A queue that starts on the same directory runs every job that was QUEUED or RUNNING
again (``resume``). A job belongs to the caller that started it (``owner``, an opaque key): calls
that name a ``viewer`` see, watch and cancel only that viewer's jobs, and another's job reads as
unknown. ``viewer=None`` (the server itself, an admin) sees every job; a job without an owner is
visible to everyone.

Training and batch jobs are ``JobQueue`` subclasses: they add ``submit`` and ``_run``.
"""

from __future__ import annotations

import logging
import queue
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import Cancelled, NotFound
from .files import write_atomically

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"
TERMINAL = (SUCCEEDED, FAILED, CANCELLED)

R = TypeVar("R")  # a job record: a dataclass with job_id, state, message, owner, created, to_json, from_json


@dataclass
class LiveJob:
    """In-memory companions of a record: cancel flag, latest progress, change counter, run payload."""

    cancel: threading.Event = field(default_factory=threading.Event)
    progress: Any = None
    version: int = 0
    payload: Any = None


class JobQueue(Generic[R]):
    """Jobs persisted under ``directory``, run one at a time in a daemon thread by ``_run``."""

    kind = "job"
    """How errors and logs name a job ("unknown job ...")."""
    quiet_fields: frozenset[str] = frozenset()
    """Record fields whose changes alone are not written to disk (frequent counters)."""

    def __init__(self, record_type: type[R], directory: str | Path | None = None) -> None:
        self.record_type = record_type
        self.directory = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="sambridge-jobs-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self._records: dict[str, R] = {}
        self._live: dict[str, LiveJob] = {}
        self._changed = threading.Condition()
        # Serialises job.json writes: the worker and RPC threads (cancel) may persist the same job at once.
        self._disk = threading.Lock()
        self._queue: queue.Queue[str] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._log = logging.getLogger(f"sambridge.{self.kind.replace(' ', '_')}")

    # -- what subclasses implement --------------------------------------------------------
    def _run(self, job_id: str) -> None:
        """Run the job (raise Cancelled when its cancel flag is set); set its final state."""
        raise NotImplementedError

    def _change_key(self, record: R) -> tuple:
        """What a watcher is told about when it changes."""
        return (record.state, record.message)  # type: ignore[attr-defined]

    def _restored(self, record: R) -> None:
        """Called for every finished job found by ``resume``."""

    # -- public API -----------------------------------------------------------------------
    def get(self, job_id: str, viewer: str | None = None) -> R:
        """A snapshot of the job (NotFound for unknown ids and for jobs ``viewer`` may not see)."""
        with self._changed:
            record = self._records.get(job_id)
            if record is None or not visible(record, viewer):
                raise NotFound(f"unknown {self.kind} '{job_id}'")
            return replace(record)  # type: ignore[type-var]

    def list(self, viewer: str | None = None) -> list[R]:
        """Snapshots of the jobs ``viewer`` may see (None: all), oldest first."""
        with self._changed:
            records = [replace(r) for r in self._records.values() if visible(r, viewer)]  # type: ignore[type-var]
        return sorted(records, key=lambda r: r.created)  # type: ignore[attr-defined]

    def cancel(self, job_id: str, viewer: str | None = None) -> R:
        """Ask a job to stop; a queued job is cancelled at once, a running one at its next check."""
        record = self.get(job_id, viewer)
        self._live[job_id].cancel.set()
        if record.state == QUEUED:  # type: ignore[attr-defined]
            self._update(job_id, state=CANCELLED, message="cancelled before it started")
        return self.get(job_id)

    def watch(self, job_id: str, viewer: str | None = None, stopped: Callable[[], bool] | None = None,
              poll_s: float = 1.0) -> Iterator[tuple[str, Any]]:
        """Yield ("job", record) on changes and ("progress", progress) as the job goes; ends after the
        job reaches a terminal state, or once ``stopped()`` (checked on every change, on ``wake()``
        and every ``poll_s``). Slow watchers see the latest progress only."""
        self.get(job_id, viewer)
        seen_version, last_key, last_progress = -1, None, None
        while True:
            with self._changed:
                live = self._live[job_id]
                if live.version == seen_version and not (stopped and stopped()):
                    self._changed.wait(timeout=poll_s)
                if stopped and stopped():
                    return
                record, progress, seen_version = replace(self._records[job_id]), live.progress, live.version  # type: ignore[type-var]
            if progress is not None and progress is not last_progress:
                last_progress = progress
                yield "progress", progress
            key = self._change_key(record)
            if key != last_key:
                last_key = key
                yield "job", record
            if record.state in TERMINAL:  # type: ignore[attr-defined]
                return

    def wake(self) -> None:
        """Wake every watcher so that those whose caller left see ``stopped()`` at once."""
        with self._changed:
            self._changed.notify_all()

    def wait(self, job_id: str, timeout: float | None = None) -> R:
        """Block until the job is terminal (or ``timeout``); returns its record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while self._records[job_id].state not in TERMINAL:  # type: ignore[attr-defined]
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(timeout=left)
            return replace(self._records[job_id])  # type: ignore[type-var]

    # -- for subclasses -----------------------------------------------------------------
    def _add(self, record: R, payload: Any = None) -> R:
        """Record a new QUEUED job (its folder must exist), persist and queue it; a snapshot of it."""
        job_id = record.job_id  # type: ignore[attr-defined]
        with self._changed:
            self._records[job_id] = record
            self._live[job_id] = LiveJob(payload=payload)
        with self._disk:
            self._persist(job_id)
        snapshot = replace(record)  # type: ignore[type-var]  # before the worker may pick it up: callers see QUEUED
        self._enqueue(job_id)
        return snapshot

    def _update(self, job_id: str, progress: Any = None, **changes) -> None:
        """Change the record (on disk first, unless only quiet fields changed), then tell the watchers."""
        if changes and not set(changes) <= self.quiet_fields:
            # On disk before in memory: whoever sees the new state (wait, watch) finds it in job.json,
            # and no later write of this change can overwrite what they do with the file next.
            with self._disk:
                self._persist(job_id, changes)
                self._apply(job_id, progress, changes)
        else:
            self._apply(job_id, progress, changes)

    def _apply(self, job_id: str, progress: Any, changes: dict) -> None:
        """Change the in-memory record and progress, then tell the watchers."""
        with self._changed:
            record = self._records[job_id]
            for key, value in changes.items():
                setattr(record, key, value)
            live = self._live[job_id]
            if progress is not None:
                live.progress = progress
            live.version += 1
            self._changed.notify_all()

    def _persist(self, job_id: str, changes: dict | None = None) -> None:
        """Write the job's record, with ``changes`` applied, to job.json atomically (a kill -9 leaves
        the old or the new file). The caller holds ``_disk``: the last write carries the latest state."""
        with self._changed:
            text = replace(self._records[job_id], **(changes or {})).to_json()  # type: ignore[type-var, attr-defined]
        write_atomically(self.directory / job_id / "job.json", text)

    def resume(self) -> None:
        """Reload jobs from disk; queue unfinished ones again, hand finished ones to ``_restored``."""
        for path in sorted(self.directory.glob("*/job.json")):
            try:
                record = self.record_type.from_json(path.read_text())  # type: ignore[attr-defined]
            except (ValueError, TypeError, KeyError) as error:
                self._log.warning("ignoring unreadable %s file %s: %s", self.kind, path, error)
                continue
            self._records[record.job_id] = record
            self._live[record.job_id] = LiveJob()
            if record.state in (QUEUED, RUNNING):
                self._update(record.job_id, state=QUEUED, message="resuming after a server restart")
                self._enqueue(record.job_id)
            elif record.state == SUCCEEDED:
                self._restored(record)

    def _enqueue(self, job_id: str) -> None:
        self._queue.put(job_id)
        if self._worker is None or not self._worker.is_alive():
            name = f"sambridge-{self.kind.replace(' ', '-')}"
            self._worker = threading.Thread(target=self._work, name=name, daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if self.get(job_id).state != QUEUED:  # type: ignore[attr-defined]
                continue
            try:
                self._run(job_id)
            except Cancelled:
                self._update(job_id, state=CANCELLED, message="cancelled")
            except Exception as error:  # noqa: BLE001 - a failed job must not stop the queue
                self._log.exception("%s %s failed", self.kind, job_id)
                self._update(job_id, state=FAILED, message=f"{type(error).__name__}: {error}")


def visible(record: Any, viewer: str | None) -> bool:
    """Whether ``viewer`` (None: everyone's view) may see the job: its owner, or nobody owns it."""
    return viewer is None or not record.owner or record.owner == viewer
