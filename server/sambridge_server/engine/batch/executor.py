"""Running chunk tasks on dask.distributed: an embedded LocalCluster or an existing scheduler.

The server starts no cluster until the first batch: then a ``LocalCluster`` of ``workers``
processes (one thread each; ``--dask-workers``), or a client of the scheduler at ``scheduler``
(``--dask-scheduler tcp://host:8786``: a dask-jobqueue Slurm/PBS cluster, a GPU node pool...).
Scheduling, retries and worker failures are Dask's: when a worker dies its tasks run again
elsewhere (and ``run_chunk`` is idempotent). Progress follows ``as_completed``; a cancel
cancels every future of the job.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable, Sequence

from ..errors import Cancelled, InvalidInput

_LOG = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, object], None]  # (done, total, result of the task just finished)
CancelledFn = Callable[[], bool]


class DaskExecutor:
    """Owns the Dask client (and the LocalCluster it may have started)."""

    def __init__(self, workers: int = 1, scheduler: str | None = None, threads_per_worker: int = 1) -> None:
        """``workers`` local processes, or the existing scheduler at ``scheduler``."""
        if scheduler is None and workers < 1:
            raise InvalidInput(f"--dask-workers must be >= 1, got {workers}")
        self.workers = workers
        self.scheduler = scheduler
        self.threads_per_worker = threads_per_worker
        self._client = None
        self._cluster = None
        self._lock = threading.Lock()

    @property
    def client(self):
        """The ``distributed.Client`` (started on first use)."""
        with self._lock:
            if self._client is None:
                from distributed import Client, LocalCluster

                if self.scheduler:
                    self._client = Client(self.scheduler, set_as_default=False)
                else:
                    # The machine's cores shared among the workers (torch would give each all of them).
                    threads = str(max(1, (os.cpu_count() or 1) // self.workers))
                    self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=self.threads_per_worker,
                                                 processes=True, dashboard_address=None,
                                                 silence_logs=logging.WARNING,
                                                 env={"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads})
                    self._client = Client(self._cluster, set_as_default=False)
            return self._client

    def worker_pids(self) -> dict[str, int]:
        """{worker address: process id} of the current workers."""
        return self.client.run(os.getpid)

    def run(self, function: Callable, tasks: Sequence, keys: Sequence[str], progress: ProgressFn | None = None,
            cancelled: CancelledFn | None = None, poll_s: float = 0.1) -> list:
        """``function(task)`` for every task on the cluster; results in task order.

        ``progress(done, total, result)`` after each task; when ``cancelled()`` turns True every
        unfinished future is cancelled and Cancelled raised. A task's exception is re-raised.
        """
        from distributed import as_completed

        if not tasks:
            return []
        client = self.client
        futures = client.map(function, list(tasks), key=list(keys), pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        results: list = [None] * len(futures)
        done = 0
        completed = as_completed(futures, loop=client.loop)
        try:
            while not completed.is_empty():
                if cancelled is not None and cancelled():
                    raise Cancelled("the batch was cancelled")
                if not completed.has_ready():
                    time.sleep(poll_s)
                    continue
                for future in completed.next_batch(block=False):
                    results[index[future.key]] = future.result()
                    done += 1
                    if progress is not None:
                        progress(done, len(futures), results[index[future.key]])
        except BaseException:
            client.cancel(futures)
            raise
        return results

    def close(self) -> None:
        """Close the client and the LocalCluster this executor started."""
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = self._cluster = None
