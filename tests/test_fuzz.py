"""Fuzzing every service with malformed and hostile requests (issue #8).

A seeded generator builds >= 500 requests across Image, Model, Embedding, Prompt,
Automatic, Volume, Tracking and Training: random dtypes and shapes, huge and negative
dimensions, NaN/inf, truncated and inconsistent upload chunks, absurd prompt counts,
unknown ids, bad axes strings, random bytes in masks and NDArrays, zlib bombs, bad enums,
bad tiling. Every call must end with a clear status (never UNKNOWN or INTERNAL, and
never a hang), the server must stay healthy and its memory bounded.

Images are tiny (24 x 24) and their embeddings precomputed, so that the requests that
pass validation stay cheap on a 2-core CI machine.
"""

from __future__ import annotations

import ctypes
import gc
import os
import random
import time
import zlib
from typing import Callable

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sambridge import Client, wire
from sambridge.v1 import (
    automatic_pb2,
    automatic_pb2_grpc,
    common_pb2,
    embeddings_pb2,
    embeddings_pb2_grpc,
    images_pb2,
    images_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    prompts_pb2,
    prompts_pb2_grpc,
    tracking_pb2,
    tracking_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
    volume_pb2,
    volume_pb2_grpc,
)
from sambridge_server.config import ModelSource, ServerConfig

N_CASES = 540
SEED = 8
CALL_TIMEOUT_S = 20.0  # a call this slow counts as a hang
WARM_UP_CASES = 100  # memory is measured from here on: allocator arenas and caches have grown by then
RSS_GROWTH_LIMIT_MB = 300
SIZE = 24
UNCLEAR = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED}

# Hostile value pools; each field is valid most of the time so that requests reach deep
# code paths with one or two bad fields. Valid values are cheap (tiny tiles, 1-2 AMG points).
P_BAD = 0.12
BAD_FLOATS = [-1.0, 2.0, 1e9, -1e9, 1e308, float("nan"), float("inf"), float("-inf")]
BAD_INTS = [-1, 99, 2**31 - 1, -(2**31)]
BAD_SHAPES = [[], [0], [-1, 5], [1, 1], [2**31, 2**31], [2**62, 4], [2**32, 2**32, 0], [4, 4, 40],
              [2, 2, 2, 2, 2], [2**63 - 1], [5, -5, 5], [3, 3, 3]]
BAD_AXES = ["", "xy", "abc", "y" * 100, "\x00", "yxcc", "ttt", "é", "zyx", "yxc"]
BAD_TILES = [[0, 0], [-1, 5], [16], [16, 16, 16], [2**31 - 1, 2**31 - 1], [1, 1], [3, 3]]
BAD_HALOS = [[-1, 0], [2**31 - 1, 0], [1], [1, 2, 3]]
BAD_PRECISIONS = ["fp16", "FP32", "x" * 300, "\x00"]
BAD_MODELS = ["nope", "../tiny", "x" * 2000, "\x00"]
ZLIB_BOMB = zlib.compress(bytes(64 << 20), 9)  # 64 MiB of zeros in ~64 KiB
BAD_IDS = ["", "sha1:" + "0" * 40, "../../etc/passwd", "sha1:../../x", "x" * 5000, "\x00", "sha1:zz"]


def _rss_mb() -> float:
    """Resident memory of this process (server included) after returning freed heap pages.

    malloc_trim makes the number reflect live memory rather than what glibc's per-thread
    arenas keep cached after large transient allocations (AMG, decoding).
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc: the raw number is still an upper bound
        pass
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Hostile:
    """Seeded generator of hostile messages over a set of known image ids."""

    def __init__(self, seed: int, ids: dict[str, str]) -> None:
        self.r = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.ids = ids

    def pick(self, pool):
        return self.r.choice(pool)

    def v(self, valid, bad):
        """A value from ``valid`` usually, from ``bad`` with probability P_BAD."""
        return self.pick(bad) if self.r.random() < P_BAD else self.pick(valid)

    def image_id(self, *kinds: str) -> str:
        return self.v([self.ids[k] for k in kinds or self.ids], BAD_IDS)

    def key(self, *kinds: str) -> common_pb2.EmbeddingKey:
        key = common_pb2.EmbeddingKey(image_id=self.image_id(*kinds), model=self.v(["tiny", ""], BAD_MODELS),
                                      precision=self.v(["", "fp32"], BAD_PRECISIONS))
        if self.r.random() < 0.15:
            key.tiling.tile_shape.extend(self.v([[SIZE, SIZE]], BAD_TILES))
            key.tiling.halo.extend(self.v([[], [0, 0], [4, 4]], BAD_HALOS))
        return key

    def number(self, low: float, high: float) -> float:
        return self.v([self.r.uniform(low, high)], BAD_FLOATS)

    def point(self) -> common_pb2.Point:
        return common_pb2.Point(x=self.number(0, SIZE - 1), y=self.number(0, SIZE - 1),
                                label=self.v([0, 1, 1], BAD_INTS + [2]))

    def points(self, few: bool = False) -> list[common_pb2.Point]:
        n = self.v([0, 1, 1, 2, 3], [5000] if not few else [6])
        if n > 100:  # an absurd count: one repeated point is enough and cheap to build
            return [common_pb2.Point(x=3, y=3, label=1)] * n
        return [self.point() for _ in range(n)]

    def box(self) -> common_pb2.Box:
        x0, y0 = self.number(0, 10), self.number(0, 10)
        return common_pb2.Box(x0=x0, y0=y0, x1=self.number(12, SIZE), y1=self.number(12, SIZE))

    def mask(self) -> common_pb2.Mask:
        height = self.v([SIZE], [0, -1, 1, 2**31 - 1, 7])
        width = self.v([SIZE], [0, -5, 3, 2**31 - 1])
        n = max(height, 0) * max(width, 0)
        length = min(self.v([(n + 7) // 8], [0, 1, 100]), 1 << 16)
        if length == (SIZE * SIZE + 7) // 8 and self.r.random() < 0.7:
            bits = np.zeros((SIZE, SIZE), bool)
            bits[5:15, 6:16] = True
            return wire.to_mask(bits)
        return common_pb2.Mask(height=height, width=width, bits=self.np.bytes(length))

    def ndarray(self) -> common_pb2.NDArray:
        shape = self.v([[SIZE, SIZE]], BAD_SHAPES)
        message = common_pb2.NDArray(dtype=self.v([common_pb2.UINT32, common_pb2.UINT16], list(range(12)) + [99, -1]),
                                     shape=shape, axes=self.v(["yx"], BAD_AXES),
                                     compression=self.v([0, 1], [7, -1]))
        kind = self.r.random()
        if kind < 0.1:
            message.data = ZLIB_BOMB
        elif kind < 0.8 and all(0 <= s < 1000 for s in shape):
            labels = np.zeros(shape, "<u4")
            if labels.ndim == 2 and labels.size:
                labels[5:12, 5:12] = 1
                labels[14:20, 14:20] = self.r.randrange(2, 2**32 - 1)
            data = labels.astype(wire.numpy_dtype(message.dtype)).tobytes() if message.dtype in wire.WIRE_TO_DTYPE \
                else labels.tobytes()
            message.data = zlib.compress(data) if message.compression == 1 else data
        else:
            message.data = self.np.bytes(self.pick([0, 1, 17, 4096]))
        return message

    def indices(self) -> list[int]:
        return self.v([[], [0], [1, 2]], [[-1], [99], [0, 0, 0], [2**31 - 1], [1] * 100000])

    def opt_number(self, message, name: str, low: float, high: float, p: float = 0.4) -> None:
        if self.r.random() < p:
            setattr(message, name, self.number(low, high))

    def opt_int(self, message, name: str, low: int, high: int, p: float = 0.4) -> None:
        if self.r.random() < p:
            setattr(message, name, self.v([self.r.randint(low, high)], BAD_INTS + [0]))

    def ais(self, message) -> None:
        for name in automatic_pb2.AISParams.DESCRIPTOR.fields_by_name:
            if name == "min_size":
                self.opt_int(message, name, 0, 50, 0.3)
            elif name.endswith("smoothing"):
                self.opt_number(message, name, 0, 3, 0.3)
            else:
                self.opt_number(message, name, 0, 1, 0.3)

    def amg(self, message) -> None:
        # Always set the grid: the default (32 x 32 points) is too slow for a CI fuzz loop.
        message.points_per_side = self.v([1, 2], [0, -1, 129, 2**31 - 1])
        self.opt_int(message, "points_per_batch", 1, 64, 0.3)
        for name in ("pred_iou_thresh", "stability_score_thresh", "stability_score_offset", "box_nms_thresh"):
            self.opt_number(message, name, 0, 1, 0.3)
        self.opt_int(message, "min_mask_region_area", 0, 20, 0.3)

    def upload_chunks(self) -> list[images_pb2.UploadChunk]:
        dtype = self.v([1, 2, 3, 4, 5, 6, 7, 8], [0, 9, 10, 11, 99, -3])
        shape = self.v([[SIZE, SIZE], [2, 8, 8], [8, 8, 2], [8, 8]], BAD_SHAPES)
        axes = self.v({2: ["yx"], 3: ["zyx", "tyx", "yxc"]}.get(len(shape), ["yx"]), BAD_AXES)
        header = images_pb2.UploadHeader(dtype=dtype, shape=shape, axes=axes,
                                         expected_image_id=self.v([""], ["sha1:" + "1" * 40, "x" * 300]))
        itemsize = np.dtype(wire.WIRE_TO_DTYPE[dtype]).itemsize if dtype in wire.WIRE_TO_DTYPE else 1
        fits = all(0 < s < 100 for s in shape) and shape
        size = int(np.prod(shape)) * itemsize if fits else self.pick([0, 5, 64])
        data = self.np.bytes(max(0, size + self.v([0], [-1, 1, 7, -size])))
        if dtype in (7, 8):  # floats: usually finite, sometimes NaN / inf
            data = np.resize(np.array([self.v([0.5, 3.0], [np.nan, np.inf])], wire.numpy_dtype(dtype)),
                             len(data) // itemsize).tobytes()
        cuts = sorted(self.r.sample(range(len(data) + 1), min(3, len(data) + 1)))
        pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        chunks = [images_pb2.UploadChunk(data=p) for p in pieces]
        style = self.r.random()
        if style < 0.9:
            chunks[0].header.CopyFrom(header)
        if 0.8 < style < 0.9 and len(chunks) > 1:
            chunks[-1].header.CopyFrom(header)  # an inconsistent second header
        return chunks


class Stubs:
    """Raw stubs for every service, on one channel."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.images = images_pb2_grpc.ImageServiceStub(channel)
        self.models = models_pb2_grpc.ModelServiceStub(channel)
        self.embeddings = embeddings_pb2_grpc.EmbeddingServiceStub(channel)
        self.prompts = prompts_pb2_grpc.PromptServiceStub(channel)
        self.automatic = automatic_pb2_grpc.AutomaticServiceStub(channel)
        self.volume = volume_pb2_grpc.VolumeServiceStub(channel)
        self.tracking = tracking_pb2_grpc.TrackingServiceStub(channel)
        self.training = training_pb2_grpc.TrainingServiceStub(channel)


def _drain(call) -> None:
    for _ in call:
        pass


def _case(h: Hostile, s: Stubs) -> tuple[str, Callable[[], None]]:
    """One hostile request: (name, thunk that performs it and raises grpc.RpcError on failure)."""
    t = CALL_TIMEOUT_S
    kind = h.r.randrange(25)
    if kind in (0, 1, 2):
        chunks = h.upload_chunks()
        return "Image.Upload", lambda: s.images.Upload(iter(chunks), timeout=t)
    if kind == 3:
        ref = images_pb2.ImageRef(image_id=h.pick(BAD_IDS + ["sha1:../../../tmp/x", "\x00\x01"]))
        method = h.pick([s.images.GetImage, s.images.DeleteImage])  # never a known id: fixtures stay
        return "Image.Get/Delete", lambda: method(ref, timeout=t)
    if kind == 4:
        request = models_pb2.LoadModelRequest(
            name=h.pick(["", "tiny", "new", "x" * 500]),
            checkpoint_path=h.pick(["", ".", "..", "/etc/passwd", "junk.pth", "empty.pth", "sub", "x" * 5000,
                                    "a\x00b", "sub/../../x", "junk.pth/", "../model_root/junk.pth"]),
            model_type=h.pick(["", "vit_b", "vit_tiny", "vit_zzz", "\x00"]))
        return "Model.LoadModel", lambda: s.models.LoadModel(request, timeout=t)
    if kind == 5:
        name = h.v(["tiny", ""], BAD_MODELS)
        return "Model.Describe/List/Info", lambda: (s.models.DescribeModel(models_pb2.ModelRef(name=name), timeout=t),
                                                     s.models.ListModels(models_pb2.ListModelsRequest(), timeout=t),
                                                     s.models.GetServerInfo(models_pb2.ServerInfoRequest(), timeout=t))
    if kind in (6, 7):
        request = embeddings_pb2.EmbedRequest(key=h.key(), indices=h.indices())
        return "Embedding.Embed", lambda: _drain(s.embeddings.Embed(request, timeout=t))
    if kind in (8, 9, 10, 11):
        request = prompts_pb2.SegmentRequest(key=h.key(), index=h.v([0, 0, 0, 1], BAD_INTS), points=h.points(),
                                             multimask=h.r.random() < 0.3,
                                             object_id=h.v(["", "", "a", "é" * 10], ["x" * 300, "\x00"]))
        if h.r.random() < 0.4:
            request.box.CopyFrom(h.box())
        if h.r.random() < 0.3:
            request.mask.CopyFrom(h.mask())
        return "Prompt.Segment", lambda: s.prompts.Segment(request, timeout=t)
    if kind in (12, 13):
        request = prompts_pb2.SegmentObjectsRequest(key=h.key(), index=h.v([0, 0, 0, 1], BAD_INTS), points=h.points(),
                                                    negative_points=h.points(),
                                                    boxes=[h.box() for _ in range(h.pick([0, 1, 2, 3]))])
        return "Prompt.SegmentObjects", lambda: s.prompts.SegmentObjects(request, timeout=t)
    if kind == 14:
        ref = prompts_pb2.ObjectRef(object_id=h.pick(["", "a", "x" * 100000, "\x00"]))
        return "Prompt.ReleaseObject", lambda: s.prompts.ReleaseObject(ref, timeout=t)
    if kind == 15:
        request = automatic_pb2.AutoSegmentRequest(key=h.key(), method=h.v([2], [0, 1, 3, -1, 99]),
                                                   indices=h.indices())
        h.ais(request.ais)
        h.amg(request.amg)
        return "Automatic.AutoSegment", lambda: _drain(s.automatic.AutoSegment(request, timeout=t))
    if kind == 17:
        request = volume_pb2.PropagateRequest(key=h.key("stack", "stack", "series", "2d"))
        for _ in range(h.v([1, 1, 2], [0, 300])):
            annotation = request.annotations.add(z=h.v([0, 1, 2], BAD_INTS + [3]))
            if h.r.random() < 0.5:
                annotation.mask.CopyFrom(h.mask())
            else:
                annotation.points.extend(h.points(few=True))
                if h.r.random() < 0.5:
                    annotation.box.CopyFrom(h.box())
        _options(h, request.options)
        return "Volume.Propagate", lambda: _drain(s.volume.Propagate(request, timeout=t))
    if kind == 18:
        request = volume_pb2.PropagateObjectsRequest(key=h.key("stack", "stack", "series", "2d"),
                                                     z=h.v([0, 1, 2], BAD_INTS + [3]), labels=h.ndarray())
        _options(h, request.options)
        return "Volume.PropagateObjects", lambda: _drain(s.volume.PropagateObjects(request, timeout=t))
    if kind == 19:
        request = volume_pb2.AutoSegment3DRequest(key=h.key("stack", "stack", "2d"), method=h.v([2], [0, 1, 7]))
        h.ais(request.ais)
        h.amg(request.amg)
        h.opt_number(request, "min_overlap", 0.01, 1)
        h.opt_int(request, "gap_closing", 0, 3)
        h.opt_int(request, "min_z_extent", 1, 3)
        return "Volume.AutoSegment3D", lambda: _drain(s.volume.AutoSegment3D(request, timeout=t))
    if kind in (20, 21):
        return "Tracking.Track", _track_case(h, s)
    if kind in (16, 22):
        request = images_pb2.ImageRef(image_id=h.pick(list(h.ids.values())))
        return "Image.GetImage(valid)", lambda: s.images.GetImage(request, timeout=t)
    return _training_case(h, s)


def _training_case(h: Hostile, s: Stubs) -> tuple[str, Callable[[], None]]:
    """Hostile TrainingService calls; never one that could start a real job (no data roots,
    only unknown image ids), so the fuzz stays cheap whatever the service validates."""
    t = CALL_TIMEOUT_S
    kind = h.r.randrange(4)
    if kind == 0:
        request = training_pb2.StartTrainingRequest(
            output_model=h.pick(["", "x", "tiny", "../x", "x" * 300]), base_model=h.pick(["", "tiny", "nope"]),
            preset=h.pick(["", "auto", "cpu", "gpu_huge", "\x00"]), epochs=h.pick([0, 1, -1, 2**31 - 1]),
            time_budget_s=h.pick([0.0, 1.0, -1.0, float("nan"), float("inf")]),
            validation_fraction=h.pick([0.0, 0.2, -1.0, 1.0, 2.0, float("nan")]),
            lora_rank=h.pick([0, 4, -1, 2**31 - 1]), n_objects_per_batch=h.pick([0, 5, -1, 2**31 - 1]))
        if h.r.random() < 0.5:
            request.data_dir = h.pick([".", "..", "/etc", "x" * 5000, "\x00"])
        else:
            for _ in range(h.pick([1, 2, 500])):
                request.pairs.add(image_id=h.pick(BAD_IDS), labels_id=h.pick(BAD_IDS))
        return "Training.StartTraining", lambda: s.training.StartTraining(request, timeout=t)
    ref = training_pb2.JobRef(job_id=h.pick(["", "x", "\x00" * 10, "x" * 10000, "../job"]))
    if kind == 1:
        return "Training.WatchJob", lambda: _drain(s.training.WatchJob(ref, timeout=t))
    if kind == 2:
        method = h.pick([s.training.GetJob, s.training.CancelJob])
        return "Training.Get/CancelJob", lambda: method(ref, timeout=t)
    return "Training.ListJobs", lambda: s.training.ListJobs(training_pb2.ListJobsRequest(), timeout=t)


def _options(h: Hostile, options) -> None:
    options.mode = h.v([0, 1, 2, 3, 4, 5], [6, -1, 2**31 - 1])
    h.opt_number(options, "iou_threshold", 0, 1)
    h.opt_number(options, "box_extension", 0, 0.5)
    options.stop_slices.extend(h.v([[], [], [2]], [[-1], [2**31 - 1], [1] * 1000]))
    # all_planes re-embeds every zy/zx plane (slow): only ever combined with an invalid mode.
    if options.mode == 6:
        options.all_planes = True


def _track_case(h: Hostile, s: Stubs) -> Callable[[], None]:
    request = tracking_pb2.TrackRequest(key=h.key("series", "series", "series", "stack"),
                                        method=h.v([1, 2], [0, 3, -5]),
                                        labels_image_id=h.v(["labels", "labels", ""], ["series", "2d", "sha1:x"]),
                                        segmentation_method=h.v([2], [0, 1, 9]),
                                        projection=h.v([0, 1, 2, 3, 4, 5], [6, -1]), backward=h.r.random() < 0.3)
    if request.labels_image_id in h.ids:
        request.labels_image_id = h.ids[request.labels_image_id]
    h.ais(request.ais)
    h.amg(request.amg)
    for name in tracking_pb2.TrackingCosts.DESCRIPTOR.fields_by_name:
        if name != "time_limit_s":
            h.opt_number(request.costs, name, 0, 20, 0.2)
    # A bounded solver whatever the costs.
    request.costs.time_limit_s = h.v([0.5, 1.0], [0.0, -1.0, 1e9, float("nan")])
    if h.r.random() < 0.8:
        request.start.t = h.v([0, 1, 2], BAD_INTS + [3])
        if h.r.random() < 0.5:
            request.start.mask.CopyFrom(h.mask())
        else:
            request.start.points.extend(h.points(few=True))
            if h.r.random() < 0.5:
                request.start.box.CopyFrom(h.box())
    for _ in range(h.v([0, 0, 1], [2000, 3])):
        division = request.divisions.add(t=h.v([1, 2], BAD_INTS))
        division.daughter_a.points.add(x=h.number(0, SIZE - 1), y=h.number(0, SIZE - 1), label=1)
        division.daughter_b.box.CopyFrom(h.box())
    h.opt_number(request, "iou_threshold", 0, 1, 0.3)
    h.opt_number(request, "box_extension", 0, 0.5, 0.3)
    h.opt_number(request, "motion_smoothing", 0, 1, 0.3)
    return lambda: _drain(s.tracking.Track(request, timeout=CALL_TIMEOUT_S))


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory, tiny_checkpoint):
    """A server on a random-weight vit_tiny with a disk cache, small limits and tiny images."""
    from tests.conftest import start_local_server

    root = tmp_path_factory.mktemp("fuzz")
    models = root / "model_root"
    (models / "sub").mkdir(parents=True)
    (models / "junk.pth").write_bytes(np.random.default_rng(0).bytes(1000))
    (models / "empty.pth").write_bytes(b"")
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], precision="fp32",
                          model_roots=[models], cache_dir=root / "cache", max_image_pixels=200_000, cache_mb=64,
                          max_message_mb=8)
    server, workspace, address = start_local_server(config)
    rng = np.random.default_rng(1)
    movie = np.zeros((3, SIZE, SIZE), np.uint8)
    labels = np.zeros((3, SIZE, SIZE), np.uint32)
    for t in range(3):
        movie[t, 6 + t:14 + t, 6:14] = 200
        labels[t, 6 + t:14 + t, 6:14] = 1
    with Client(address, timeout=120) as client:
        ids = {
            "2d": client.upload(rng.integers(0, 255, (SIZE, SIZE), dtype=np.uint8)),
            "rgb": client.upload(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8), "yxc"),
            "stack": client.upload(rng.random((3, SIZE, SIZE), dtype=np.float32), "zyx"),
            "series": client.upload(movie, "tyx"),
            "labels": client.upload(labels, "tyx"),
        }
        for name in ("2d", "rgb", "stack", "series"):
            client.embed(ids[name], model="tiny")
    yield workspace, address, ids
    server.stop(grace=0)


def _valid_request_succeeds(address: str, image_id: str) -> bool:
    with Client(address, timeout=60) as client:
        mask = client.segment(image_id, box=(4, 4, 18, 18), model="tiny")
    return mask.shape == (SIZE, SIZE)


def test_hostile_requests_get_clear_statuses(fuzz_server):
    workspace, address, ids = fuzz_server
    hostile = Hostile(SEED, ids)
    channel = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 64 << 20),
                                                      ("grpc.max_receive_message_length", 64 << 20)])
    stubs = Stubs(channel)
    assert _valid_request_succeeds(address, ids["2d"])
    rss_before = 0.0
    codes: dict[str, dict[str, int]] = {}
    unclear = []
    timings: list[tuple[float, str]] = []
    start = time.perf_counter()
    for i in range(N_CASES):
        if i == WARM_UP_CASES:
            rss_before = _rss_mb()
        name, thunk = _case(hostile, stubs)
        began = time.perf_counter()
        try:
            thunk()
            code, details = grpc.StatusCode.OK, ""
        except grpc.RpcError as err:
            code, details = err.code(), err.details()
        elapsed = time.perf_counter() - began
        timings.append((elapsed, f"#{i} {name} -> {code.name}"))
        codes.setdefault(name, {}).setdefault(code.name, 0)
        codes[name][code.name] += 1
        if os.environ.get("FUZZ_DEBUG"):
            print(f"{_rss_mb():8.0f} MB #{i} {name} {code.name} {details[:90]}")
        if code in UNCLEAR:
            unclear.append(f"#{i} {name}: {code.name}: {details[:300]}")
    total = time.perf_counter() - start
    channel.close()
    rss_growth = _rss_mb() - rss_before
    summary = "\n".join(f"  {name}: {dict(sorted(c.items()))}" for name, c in sorted(codes.items()))
    slowest = ", ".join(f"{what} {seconds:.2f} s" for seconds, what in sorted(timings, reverse=True)[:5])
    print(f"\n{N_CASES} hostile requests in {total:.1f} s, RSS growth {rss_growth:.0f} MB\n"
          f"slowest: {slowest}\n{summary}")
    assert not unclear, "\n".join(unclear[:20])
    assert sum(sum(c.values()) for c in codes.values()) == N_CASES >= 500
    assert len({name.split(".")[0] for name in codes}) == 8  # every service was hit
    assert rss_growth < RSS_GROWTH_LIMIT_MB

    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
    assert _valid_request_succeeds(address, ids["2d"])
    assert _valid_request_succeeds(address, ids["rgb"])
