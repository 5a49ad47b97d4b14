"""TrackingService over a live server: exact lineages, interactive tracking, bad input, cancel."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest
from scipy import ndimage
from skimage.draw import disk

from sambridge import wire
from sambridge.client import SamBridgeError
from sambridge.v1 import common_pb2, tracking_pb2
from sambridge_server.engine.tracking import interactive as tracking_interactive
from sambridge_server.engine.automatic.planes import LabelResult


def dividing_cells() -> tuple[np.ndarray, np.ndarray]:
    """A (t, y, x) ground truth with two divisions and its CTC table (id, begin, end, parent).

    Cell 1 divides at frame 3 into 4 and 5, cell 2 at frame 5 into 6 and 7, cell 3 drifts.
    """
    frames, size = 8, 128
    truth = np.zeros((frames, size, size), dtype=np.uint32)
    for t in range(frames):
        frame = truth[t]
        frame[disk((30, 90 + t), 8, shape=frame.shape)] = 3
        if t < 3:
            frame[disk((30, 30 + t), 9, shape=frame.shape)] = 1
        else:
            gap = 7 + 2 * (t - 3)
            frame[disk((30 - gap, 33), 6, shape=frame.shape)] = 4
            frame[disk((30 + gap, 33), 6, shape=frame.shape)] = 5
        if t < 5:
            frame[disk((95, 60 - t), 9, shape=frame.shape)] = 2
        else:
            gap = 7 + 2 * (t - 5)
            frame[disk((95, 55 - gap), 6, shape=frame.shape)] = 6
            frame[disk((95, 55 + gap), 6, shape=frame.shape)] = 7
    table = np.array([[1, 0, 2, 0], [2, 0, 4, 0], [3, 0, 7, 0], [4, 3, 7, 1], [5, 3, 7, 1], [6, 5, 7, 2], [7, 5, 7, 2]])
    return truth, table


def shuffled(truth: np.ndarray, seed: int = 0) -> np.ndarray:
    """Fresh random ids in every frame, as a per-frame segmentation gives."""
    rng = np.random.default_rng(seed)
    out = np.zeros_like(truth)
    for t, frame in enumerate(truth):
        for label in np.unique(frame)[1:]:
            out[t][frame == label] = rng.integers(100, 60000)
    return out


@pytest.fixture(scope="module")
def series():
    """(intensity movie, shuffled labels, ground truth, ground-truth table)."""
    truth, table = dividing_cells()
    movie = (ndimage.gaussian_filter((truth > 0).astype(np.float32), (0, 2, 2)) * 200).astype(np.uint8)
    return movie, shuffled(truth), truth, table


def test_linking_through_the_server_returns_the_exact_lineage(client, series):
    movie, labels, truth, table = series
    progress = []
    result = client.track(movie, labels=labels, model="tiny", progress=lambda *event: progress.append(event))

    assert result.optimal and result.solver_status == "optimal" and result.n_divisions == 2
    pairs = np.unique(np.stack([result.labels.ravel(), truth.ravel()]), axis=1)
    mapping = dict(zip(pairs[0].tolist(), pairs[1].tolist()))
    assert len(mapping) == pairs.shape[1] == 8, "result tracks and true tracks must correspond one to one"
    mapped = sorted([mapping[i], b, e, mapping[p]] for i, b, e, p in result.tracks.tolist())
    assert mapped == table.tolist()
    assert {mapping[m]: sorted(mapping[d] for d in ds) for m, ds in result.lineage.items()} == {1: [4, 5], 2: [6, 7]}
    assert progress and all(stage == "linking" for stage, _, _ in progress)


def test_gaps_and_late_daughters_through_the_server_equal_the_engine(client, series):
    """A frame missed by the segmenter: the server (with the movie as division evidence) links
    across it exactly as the engine does, with one-child parents for gaps and 2 divisions."""
    from sambridge_server.engine.tracking.linking import track_labels

    movie, labels, _, _ = series
    missed = labels.copy()
    missed[3] = 0  # cell 1's daughters appear a frame late, cells 2 and 3 have a gap
    result = client.track(movie, labels=missed, model="tiny")
    engine = track_labels(missed, image=movie)

    np.testing.assert_array_equal(result.labels, engine.labels)
    np.testing.assert_array_equal(result.tracks, engine.tracks)
    assert result.n_divisions == 2 and result.lineage == engine.lineage and len(engine.lineage) == 2
    assert sum(1 for *_, parent in result.tracks.tolist() if parent and parent not in result.lineage) == 2


def test_time_limit_is_applied_per_call(client, series):
    movie, labels, truth, _ = series
    result = client.track(movie, labels=labels, model="tiny", time_limit_s=1e-6)
    # No time to build the ILP: the greedy linking comes back, marked as cut by the limit.
    assert result.solver_status == "time_limit" and not result.optimal
    assert result.labels.shape == truth.shape and len(result.tracks) >= 7


def _code(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(SamBridgeError) as error:
        call()
    return error.value.code, error.value.details


def test_bad_input_gets_clear_statuses_and_the_server_keeps_serving(client, series):
    movie, labels, _, _ = series
    image_2d = client.upload(movie[0])
    code, message = _code(lambda: client.track(image_2d, labels=labels, model="tiny"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'tyx'" in message and "'yx'" in message

    code, message = _code(lambda: client.track(movie, labels=labels[:, :64], model="tiny"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "does not match" in message

    code, message = _code(lambda: client.track(movie, labels="sha1:" + "0" * 40, model="tiny"))
    assert code == grpc.StatusCode.NOT_FOUND and "unknown image id" in message

    code, message = _code(lambda: client.track(movie, labels=labels, model="tiny", time_limit_s=-1))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "time_limit_s" in message

    code, message = _code(lambda: client.follow(movie, start=None, model="tiny"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "start" in message

    code, message = _code(lambda: client.follow(movie, model="tiny",
                                                start={"t": 0, "mask": np.ones((5, 5), bool)}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "mask has shape" in message

    assert client.track(movie, labels=labels, model="tiny").n_divisions == 2


def test_auto_with_ais_on_a_model_without_decoder_fails_clearly(client, series):
    code, message = _code(lambda: client.track(series[0], model="tiny", segmentation_method="ais"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "'tiny' has no AIS decoder" in message


def test_auto_without_labels_segments_every_frame_then_links(client, live, series, monkeypatch):
    workspace, _ = live
    movie, labels, truth, _ = series
    asked = {}

    def auto_segment(request, method, **kwargs):
        # Stands in for AIS on a model with a decoder (the test model has none): the per-frame labels.
        asked.update(image_id=request.image_id, method=method, indices=list(kwargs.get("indices", ())))
        kwargs["progress"](len(labels), len(labels), "segmenting")
        return LabelResult(labels, "tyx", [], "ais")

    monkeypatch.setattr(workspace, "auto_segment", auto_segment)
    stages = set()
    result = client.track(movie, model="tiny", segmentation_method="ais", progress=lambda s, d, t: stages.add(s))

    assert asked == {"image_id": client.upload(movie, "tyx"), "method": "ais", "indices": []}
    assert stages == {"segmenting", "linking"} and result.optimal and result.n_divisions == 2
    assert len(np.unique(np.stack([result.labels.ravel(), truth.ravel()]), axis=1)[0]) == 8


@pytest.fixture(scope="module")
def hela_series(hela_movie, hela_seg):
    """Three real frames (128 x 128) and the box (x0, y0, x1, y1) of a nucleus on frame 0."""
    crop = (slice(0, 3), slice(200, 328), slice(340, 468))
    labels = hela_seg[crop][0]
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    ys, xs = ndimage.find_objects((labels == np.argmax(sizes)).astype(np.int32))[0]
    return np.ascontiguousarray(hela_movie[crop]), (xs.start, ys.start, xs.stop, ys.stop)


def test_interactive_tracking_with_a_division(client, hela_series):
    movie, box = hela_series
    result = client.follow(movie, start={"t": 0, "box": box}, model="tiny", iou_threshold=0.0)
    assert result.tracks.tolist()[0][:2] == [1, 0] and result.lineage == {}
    # Frame 0 is the box prompt's answer, the same as the prompt service's.
    np.testing.assert_array_equal(result.labels[0] == 1, client.segment(movie, box=box, model="tiny", axes="tyx"))

    x0, y0, x1, y1 = box
    middle = (x0 + x1) / 2
    divided = client.follow(
        movie, start={"t": 0, "box": box}, model="tiny", iou_threshold=0.0,
        divisions=[{"t": 2, "daughters": [{"box": (x0, y0, middle, y1)}, {"box": (middle, y0, x1, y1)}]}],
    )
    assert divided.tracks.tolist() == [[1, 0, 1, 0], [2, 2, 2, 1], [3, 2, 2, 1]]
    assert divided.lineage == {1: [2, 3]} and divided.n_divisions == 1
    assert divided.stop_reasons[1] == "divided at frame 2" and not divided.optimal
    np.testing.assert_array_equal(divided.labels[:2] == 1, result.labels[:2] == 1)


def test_cancel_stops_interactive_tracking(client, live, monkeypatch):
    workspace, _ = live
    frames = 12
    movie = np.random.default_rng(5).integers(0, 255, (frames, 64, 64), dtype=np.uint8)
    asked: list[int] = []
    real_embeddings_for = workspace.embeddings_for

    def counting(request, index=0, **kwargs):
        asked.append(index)
        return real_embeddings_for(request, index, **kwargs)

    monkeypatch.setattr(workspace, "embeddings_for", counting)
    # SAM never loses the object here, so only the cancel can end the call early.
    monkeypatch.setattr(tracking_interactive, "segment_from_mask", lambda model, emb, mask, *options: mask)
    mask = np.zeros((64, 64), bool)
    mask[20:40, 20:40] = True
    request = tracking_pb2.TrackRequest(
        key=common_pb2.EmbeddingKey(image_id=client.upload(movie, "tyx"), model="tiny"),
        method=tracking_pb2.INTERACTIVE, start=tracking_pb2.FrameAnnotation(t=0, mask=wire.to_mask(mask)),
    )
    call = client._tracking.Track(request)
    first = next(call)
    assert first.WhichOneof("event") == "progress"
    call.cancel()
    with pytest.raises(grpc.RpcError) as error:
        for _ in call:
            pass
    assert error.value.code() == grpc.StatusCode.CANCELLED

    deadline = time.monotonic() + 30
    while any(t.name == "sambridge-work" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "sambridge-work" for t in threading.enumerate())
    assert len(asked) <= 3 < frames, asked


def test_track_interactive_is_the_deprecated_spelling_of_follow(client, hela_series):
    movie, box = hela_series
    with pytest.warns(DeprecationWarning, match="follow"):
        old = client.track(movie, method="interactive", model="tiny", start={"t": 0, "box": box}, iou_threshold=0.0)
    new = client.follow(movie, start={"t": 0, "box": box}, model="tiny", iou_threshold=0.0)
    np.testing.assert_array_equal(old.labels, new.labels)
    assert old.tracks.tolist() == new.tracks.tolist()
