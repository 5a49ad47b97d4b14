"""The reusable pieces of bench/eval_default_model.py: Otsu-inside-the-box and the handle click loop."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "eval_default_model.py"


@pytest.fixture(scope="module")
def bench():
    """The bench script as a module."""
    spec = importlib.util.spec_from_file_location("eval_default_model", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_default_model"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def crop(hela_frame, hela_seg):
    """A 256x256 HeLa crop, its labels and its largest object (bool)."""
    window = np.s_[200:456, 300:556]
    image, labels = hela_frame[window], hela_seg[0][window].astype(np.int64)
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    return image, labels, labels == ids[np.argmax(counts)]


def test_otsu_in_box_finds_the_object_either_polarity(bench, crop):
    image, _, target = crop
    for margin in (0, 10):
        box = bench.object_box(target, margin)
        assert bench.iou(bench.otsu_in_box(image, box), target) > 0.7
        dark = (image.max() - image).astype(np.uint16)  # dark object on bright background
        assert bench.iou(bench.otsu_in_box(dark, box), target) > 0.7
    assert not bench.otsu_in_box(np.zeros_like(image), bench.object_box(target)).any()


def test_handle_click_loop_equals_engine_replication(bench, crop, tmp_path):
    """A box and 7 corrective rounds through one object_id give exactly the masks of decoding all
    accumulated prompts plus the previous logits in one engine call each."""
    from sambridge import Client
    from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint
    from sambridge_server.engine.prompts.decoding import decode
    from sambridge_server.engine.requests import EmbeddingRequest

    image, _, target = crop
    path = tmp_path / "tiny.pth"
    save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=1), path, fmt="meta")
    server, workspace, address = bench.start_server(path, "fp32")
    try:
        with Client(address, timeout=120) as client:
            image_id = client.upload(image)

            def served(**prompts):
                return client.segment(image_id, object_id="obj", **prompts)

            handle_masks = bench.click_loop(served, target, bench.object_box(target), np.random.default_rng(3))
            embeddings = workspace.embeddings_for(EmbeddingRequest(image_id))[0]
            model = workspace.models.get(None)
    finally:
        server.stop(grace=0)

    state = {"points": np.zeros((0, 2)), "labels": np.zeros(0, int), "box": None, "logits": None}

    def replicated(box=None, points=None, point_labels=None):
        if box is not None:
            state["box"] = np.asarray(box)
        if points is not None:
            state["points"] = np.concatenate([state["points"], points])
            state["labels"] = np.concatenate([state["labels"], point_labels])
        has_points = len(state["points"]) > 0
        result = decode(model, embeddings, state["points"] if has_points else None,
                        state["labels"] if has_points else None, state["box"], state["logits"], tile_index=0)
        state["logits"] = result.logits[0]
        return result.masks[0]

    engine_masks = bench.click_loop(replicated, target, bench.object_box(target), np.random.default_rng(3))
    assert len(handle_masks) == len(engine_masks) == bench.CLICKS + 1
    assert len(state["points"]) == 2 * bench.CLICKS
    for k, (a, b) in enumerate(zip(handle_masks, engine_masks)):
        assert np.array_equal(a, b), f"call {k} differs"
    assert len({m.tobytes() for m in handle_masks}) > 1  # the clicks changed the mask
