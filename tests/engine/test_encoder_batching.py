"""Encoder batching: concurrent callers share forwards, and each gets what it would get alone."""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np
import pytest
import torch

from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.embeddings import compute_embeddings, model_encoder
from sambridge_server.engine.encoder_batching import (EncoderBatcher, activation_bytes_per_image, auto_max_batch,
                                                      parse_encoder_batch)
from sambridge_server.engine.errors import Cancelled
from sambridge_server.engine.interrupt import interruptible
from sambridge_server.engine.models import PRESETS, build_sam
from sambridge_server.engine.prompts.decoding import decode
from sambridge_server.engine.requests import EmbeddingRequest
from sambridge_server.engine.workspace import Workspace

N_USERS = 4


@pytest.fixture(scope="module")
def images(hela_movie) -> list[np.ndarray]:
    """Different real HeLa crops, one per user (96 x 128: the encoder input is 1024 px anyway)."""
    return [np.ascontiguousarray(hela_movie[4 * i, 200 + 40 * i : 296 + 40 * i, 300:428]) for i in range(N_USERS)]


def _concurrently(work, n: int, batcher: EncoderBatcher | None = None) -> list:
    """Run ``work(i)`` for i < n in n threads started together; their results (or exceptions) in order.

    With ``batcher`` every thread is one of its callers (an embedding in progress) from the start,
    so its first forward waits for all of them.
    """
    results: list = [None] * n
    start = threading.Barrier(n)

    def run(i: int) -> None:
        with batcher.caller() if batcher else contextlib.nullcontext():
            start.wait()
            try:
                results[i] = work(i)
            except Exception as error:  # noqa: BLE001 - the test inspects it
                results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _doubling(gate: threading.Event | None = None, calls: list | None = None):
    """A fake forward: features = 2 x rows, after ``gate`` opens; records each batch's row count."""

    def forward(rows: torch.Tensor, precision: str) -> np.ndarray:
        if calls is not None:
            calls.append(int(rows.shape[0]))
        if gate is not None:
            assert gate.wait(10)
        return rows.numpy() * 2

    return forward


def test_concurrent_embeddings_are_batched_and_identical_to_one_at_a_time(tiny_sam, images):
    alone = [compute_embeddings(tiny_sam, image) for image in images]
    batcher = EncoderBatcher(model_encoder(tiny_sam), max_batch=N_USERS, window_s=5.0)
    together = _concurrently(
        lambda i: compute_embeddings(tiny_sam, images[i], encoder=lambda b, p: batcher.encode(b, p)), N_USERS, batcher)
    assert list(batcher.batch_sizes) == [N_USERS]  # one forward for all (it starts once all four are in)
    for single, batched in zip(alone, together):
        np.testing.assert_allclose(batched.features, single.features, rtol=0, atol=1e-5)
        # Bitwise too, on a CPU: each row is reduced over the same inner dimension in the same order
        # whatever the batch size (measured with torch 2.14's CPU kernels). GPU kernels picked by
        # batch size may differ in the last bits; the tolerance above is what holds there.
        np.testing.assert_array_equal(batched.features, single.features)
        assert batched.input_sizes == single.input_sizes
    box = np.array([20.0, 20.0, 70.0, 60.0])
    for i in (0, N_USERS - 1):  # the first and last rows of the forward (a decode takes a second here)
        np.testing.assert_array_equal(decode(tiny_sam, together[i], box=box).masks,
                                      decode(tiny_sam, alone[i], box=box).masks)


def test_max_batch_one_runs_one_forward_at_a_time():
    running, most = [0], [0]
    guard = threading.Lock()

    def forward(rows: torch.Tensor, precision: str) -> np.ndarray:
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with guard:
            running[0] -= 1
        return rows.numpy() + 1

    batcher = EncoderBatcher(forward, max_batch=1, window_s=5.0)  # no window: nothing to gather
    started = time.monotonic()
    results = _concurrently(lambda i: batcher.encode(torch.full((1, 3), float(i))), 6)
    assert most[0] == 1
    assert list(batcher.batch_sizes) == [1] * 6
    assert time.monotonic() - started < 3.0  # the 5 s window was not waited
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result, np.full((1, 3), i + 1.0))


def test_only_inputs_of_the_same_precision_and_shape_share_a_forward():
    calls: list[int] = []
    batcher = EncoderBatcher(_doubling(calls=calls), max_batch=8, window_s=0.3)
    shapes = [(1, 3), (1, 3), (2, 3), (1, 4)]
    precisions = ["fp32", "bf16", "fp32", "fp32"]
    results = _concurrently(lambda i: batcher.encode(torch.full(shapes[i], float(i)), precisions[i]), 4, batcher)
    assert sorted(calls) == [1, 1, 3]  # only the two fp32 (., 3) inputs (1 + 2 rows) were concatenated
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result, np.full(shapes[i], 2.0 * i))


def test_a_forward_waits_for_embeddings_in_progress_but_a_lone_caller_never_waits():
    calls: list[int] = []
    batcher = EncoderBatcher(_doubling(calls=calls), max_batch=4, window_s=5.0)
    started = time.monotonic()
    with batcher.caller():  # one user with many tiles: no one else to wait for
        for _ in range(5):
            batcher.encode(torch.ones(1, 2))
    assert time.monotonic() - started < 2.0 and calls == [1] * 5
    calls.clear()

    def user(i: int):
        time.sleep(0.3 * i)  # the second is still preprocessing when the first submits
        return batcher.encode(torch.full((1, 2), float(i)))

    results = _concurrently(user, 2, batcher)
    assert calls == [2]
    np.testing.assert_array_equal(results[1], np.full((1, 2), 2.0))


def test_a_cancelled_waiter_raises_cancelled_and_the_others_get_their_results():
    gate = threading.Event()
    calls: list[int] = []
    batcher = EncoderBatcher(_doubling(gate, calls), max_batch=3, window_s=5.0)
    cancel = threading.Event()
    ended: dict[int, float] = {}

    def user(i: int):
        try:
            return batcher.encode(torch.full((1, 2), float(i)), cancelled=cancel.is_set if i == 1 else None)
        finally:
            ended[i] = time.monotonic()

    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.extend(_concurrently(user, 3, batcher)))
    runner.start()
    while calls != [3]:  # all three are in one forward, which waits at the gate
        time.sleep(0.01)
    cancel.set()
    cancelled_at = time.monotonic()
    while 1 not in ended:
        time.sleep(0.01)
    assert ended[1] - cancelled_at < 1.0  # it left while the forward was still running
    gate.set()
    runner.join(10)
    assert isinstance(outcome[1], Cancelled)
    np.testing.assert_array_equal(outcome[0], np.zeros((1, 2)))
    np.testing.assert_array_equal(outcome[2], np.full((1, 2), 4.0))


def test_a_batch_whose_callers_all_cancelled_never_runs():
    gate = threading.Event()
    calls: list[int] = []
    batcher = EncoderBatcher(_doubling(gate, calls), max_batch=4, window_s=0.0)
    first = threading.Thread(target=batcher.encode, args=(torch.ones(1, 2),))
    first.start()
    while calls != [1]:  # the first forward runs (held at the gate)
        time.sleep(0.01)
    results = _concurrently(lambda i: batcher.encode(torch.ones(1, 2), cancelled=lambda: True), 2)
    gate.set()
    first.join(10)
    assert all(isinstance(result, Cancelled) for result in results)
    time.sleep(0.2)
    assert calls == [1]  # the queued, abandoned forward was skipped


def test_cancelling_the_only_caller_stops_the_encoder_between_blocks():
    sam = interruptible(build_sam(PRESETS["vit_tiny"], seed=0))
    ran: list[torch.nn.Module] = []
    for block in sam.image_encoder.blocks:  # the SDPA forward calls a block's parts, not the block
        block.mlp.register_forward_hook(lambda module, args, out: ran.append(module))
    stopped = threading.Event()

    def forward(rows: torch.Tensor, precision: str) -> np.ndarray:
        try:
            return model_encoder(sam)(rows, precision)
        except Cancelled:
            stopped.set()
            raise

    batcher = EncoderBatcher(forward, max_batch=1)
    with pytest.raises(Cancelled):
        batcher.encode(torch.zeros(1, 3, 1024, 1024), cancelled=lambda: len(ran) >= 1)
    assert stopped.wait(10)
    assert len(ran) == 1 < len(sam.image_encoder.blocks)  # the second block never ran


def test_an_error_in_a_forward_reaches_all_its_callers_and_the_batcher_keeps_working():
    calls: list[int] = []
    double = _doubling()

    def forward(rows: torch.Tensor, precision: str) -> np.ndarray:
        calls.append(int(rows.shape[0]))
        if len(calls) == 1:
            raise RuntimeError("out of memory (simulated)")
        return double(rows, precision)

    batcher = EncoderBatcher(forward, max_batch=3, window_s=5.0)
    results = _concurrently(lambda i: batcher.encode(torch.full((1, 2), float(i))), 3, batcher)
    assert calls == [3]
    assert all(isinstance(result, RuntimeError) and "simulated" in str(result) for result in results)
    np.testing.assert_array_equal(batcher.encode(torch.ones(3, 2)), np.full((3, 2), 2.0))  # a full batch: no wait


def test_the_workspace_batches_concurrent_embeddings_of_one_model(tiny_checkpoint, images):
    def workspace(encoder_batch: str) -> Workspace:
        return Workspace(ServerConfig(models=[ModelSource(path=tiny_checkpoint, name="tiny")], precision="fp32",
                                      encoder_batch=encoder_batch))

    serial, batched = workspace("1"), workspace(str(N_USERS))
    ids = [f"user{i}" for i in range(N_USERS)]
    for space in (serial, batched):
        for image_id, image in zip(ids, images):
            space.images.put(image_id, image, "yx")
    alone = [serial.embeddings_for(EmbeddingRequest(image_id))[0] for image_id in ids]
    batcher = batched.encoder_batcher(batched.models.get("tiny"))
    assert batcher.max_batch == N_USERS
    batcher.window_s = 5.0  # all four in one forward, however slowly the threads get there
    together = _concurrently(lambda i: batched.embeddings_for(EmbeddingRequest(ids[i]))[0], N_USERS, batcher)
    assert list(batcher.batch_sizes) == [N_USERS]
    for single, shared in zip(alone, together):
        np.testing.assert_array_equal(shared.features, single.features)


def test_auto_is_serial_on_a_cpu_and_memory_bound_estimates_grow_with_the_model():
    tiny, small = (build_sam(PRESETS[name], seed=0).image_encoder for name in ("vit_tiny", "vit_small"))
    assert auto_max_batch(small, torch.device("cpu")) == 1
    assert 0 < activation_bytes_per_image(tiny) < activation_bytes_per_image(small)
    assert parse_encoder_batch("auto") is None and parse_encoder_batch("4") == 4
    with pytest.raises(ValueError):
        parse_encoder_batch("0")


def test_the_server_option_reaches_the_config():
    from sambridge_server.cli import config_from_args, parse_args

    assert config_from_args(parse_args([])).encoder_batch == "auto"
    assert config_from_args(parse_args(["--encoder-batch", "4"])).encoder_batch == "4"
    with pytest.raises(SystemExit):
        parse_args(["--encoder-batch", "0"])
