"""AIS decoder and post-processing against micro_sam on identical weights and identical maps."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage
from skimage.segmentation import find_boundaries

from sambridge_server.engine.automatic.ais import (
    AISMaps,
    AISParams,
    TUNED_AIS_PARAMS,
    ais_segment,
    default_ais_params,
    prepare_smoothing,
    smooth,
    stitch_tile_maps,
)
from sambridge_server.engine.automatic.ais_decoder import build_ais_decoder, predict_ais_maps
from sambridge_server.engine.metrics import mean_segmentation_accuracy
from sambridge_server.engine.models import load_checkpoint, save_checkpoint
from sambridge_server.engine.tiling import make_grid


def _micro_sam_kwargs(params: AISParams) -> dict:
    return dict(
        center_distance_threshold=params.center_distance_threshold,
        boundary_distance_threshold=params.boundary_distance_threshold,
        foreground_threshold=params.foreground_threshold,
        foreground_smoothing=params.foreground_smoothing,
        distance_smoothing=params.distance_smoothing,
        min_size=params.min_size,
    )


def maps_from_labels(labels: np.ndarray, seed: int = 0, noise: float = 0.05) -> AISMaps:
    """Decoder-like maps built from a label image: foreground, normalised center distance and
    inverted normalised boundary distance per object, plus noise (what a trained decoder predicts)."""
    labels = labels.astype(np.int64)
    ids = np.arange(labels.max() + 1)
    inner = (labels > 0) & ~find_boundaries(labels, mode="inner")
    edt = ndimage.distance_transform_edt(inner)
    edt_max = np.maximum(ndimage.maximum(edt, labels, ids), 1)
    boundary = np.where(labels > 0, 1 - edt / edt_max[labels], 1.0)
    centers = np.vstack([[0, 0], np.array(ndimage.center_of_mass(np.ones_like(labels), labels, ids[1:]))])
    yy, xx = np.indices(labels.shape)
    center_dist = np.hypot(yy - centers[labels, 0], xx - centers[labels, 1])
    center_max = np.maximum(ndimage.maximum(center_dist, labels, ids), 1)
    center = np.where(labels > 0, center_dist / center_max[labels], 1.0)
    foreground = (labels > 0).astype(np.float64)
    rng = np.random.default_rng(seed)
    noisy = [np.clip(m + rng.normal(0, noise, m.shape), 0, 1).astype(np.float32) for m in (foreground, center, boundary)]
    return AISMaps(*noisy)


def micro_sam_segment(maps: AISMaps, params: AISParams) -> np.ndarray:
    from micro_sam.instance_segmentation import InstanceSegmentationWithDecoder

    segmenter = InstanceSegmentationWithDecoder(None, None)
    segmenter.set_state({
        "foreground": maps.foreground,
        "center_distances": maps.center_distances,
        "boundary_distances": maps.boundary_distances,
    })
    return segmenter.generate(**_micro_sam_kwargs(params))


@pytest.fixture(scope="module")
def hela_maps(hela_seg) -> AISMaps:
    return maps_from_labels(hela_seg[0])


@pytest.mark.parametrize("params", [AISParams(), TUNED_AIS_PARAMS["vit_b_lm"], AISParams(0.3, 0.4, 0.6, 0.8, 1.2, 50)])
def test_post_processing_matches_micro_sam(hela_maps, params):
    reference = micro_sam_segment(hela_maps, params)
    ours = ais_segment(hela_maps, params)
    assert ours.dtype == np.uint32 and ours.shape == reference.shape
    assert reference.max() >= 100
    assert ours.max() == len(np.unique(ours)) - 1  # consecutive labels
    assert mean_segmentation_accuracy(ours, reference) >= 0.95
    assert np.array_equal(ours > 0, reference > 0)


def test_retuning_reuses_smoothing_and_gives_same_labels(hela_maps):
    maps = AISMaps(hela_maps.foreground, hela_maps.center_distances, hela_maps.boundary_distances)
    first = ais_segment(maps, AISParams(min_size=50))
    assert len(maps.smoothing_cache) == 3
    again = ais_segment(maps, AISParams(min_size=50))
    assert np.array_equal(first, again)
    presmoothed = prepare_smoothing(AISMaps(maps.foreground, maps.center_distances, maps.boundary_distances),
                                    AISParams(min_size=50))
    assert len(presmoothed.smoothing_cache) == 3
    assert np.array_equal(ais_segment(presmoothed, AISParams(min_size=50)), first)
    stricter = ais_segment(maps, AISParams(center_distance_threshold=0.2, min_size=50))
    assert np.array_equal(stricter, micro_sam_segment(maps, AISParams(center_distance_threshold=0.2, min_size=50)))


def test_min_size_removes_small_objects(hela_maps):
    labels = ais_segment(hela_maps, AISParams(min_size=400))
    sizes = np.bincount(labels.ravel())[1:]
    assert sizes.min() >= 400
    assert labels.max() < ais_segment(hela_maps, AISParams()).max()


def test_empty_maps_give_empty_labels():
    shape = (64, 80)
    maps = AISMaps(np.zeros(shape, np.float32), np.ones(shape, np.float32), np.ones(shape, np.float32))
    labels = ais_segment(maps)
    assert labels.shape == shape and labels.dtype == np.uint32 and labels.max() == 0


def test_smoothing_matches_vigra_kernel():
    import bioimage_cpp

    image = np.random.default_rng(0).random((60, 90)).astype(np.float32)
    for sigma in (1.0, 1.2, 1.4, 1.6, 2.0):
        np.testing.assert_allclose(smooth([image], sigma)[0],
                                   bioimage_cpp.filters.gaussian_smoothing(image, sigma), atol=1e-6)


def test_tuned_defaults():
    assert default_ais_params("vit_b_lm") == AISParams(0.4, 0.5, 0.5, 1.0, 2.0, 100)
    assert default_ais_params("unknown") == AISParams()
    assert default_ais_params(None) == AISParams(0.5, 0.5, 0.5, 1.0, 1.6, 0)


# --- decoder parity with random weights -------------------------------------------------------


@pytest.fixture(scope="module")
def micro_sam_checkpoint(tiny_sam, tmp_path_factory):
    """A micro_sam-format checkpoint: tiny SAM + UNETR decoder from micro_sam's get_unetr (seeded)."""
    from micro_sam.instance_segmentation import get_unetr

    torch.manual_seed(123)
    unetr = get_unetr(tiny_sam.image_encoder, decoder_state=None, device="cpu")
    # random BatchNorm affine parameters and running stats so that nothing is an identity
    for module in unetr.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.2, 0.2)
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    decoder_state = OrderedDict((k, v) for k, v in unetr.state_dict().items() if not k.startswith("encoder"))
    path = save_checkpoint(tiny_sam, tmp_path_factory.mktemp("ckpt") / "tiny_lm.pt", decoder_state, fmt="micro_sam")
    return path, decoder_state


def test_decoder_maps_match_micro_sam(micro_sam_checkpoint, micro_sam_predictor, hela_crop):
    from micro_sam.instance_segmentation import InstanceSegmentationWithDecoder, get_decoder
    from micro_sam.util import precompute_image_embeddings

    path, decoder_state = micro_sam_checkpoint
    loaded = load_checkpoint(path)
    assert loaded.decoder_state is not None
    ours = build_ais_decoder(loaded.decoder_state)
    assert set(ours.state_dict()) == set(decoder_state)

    embeddings = precompute_image_embeddings(micro_sam_predictor, hela_crop, verbose=False)
    reference_decoder = get_decoder(micro_sam_predictor.model.image_encoder, decoder_state, device="cpu")
    segmenter = InstanceSegmentationWithDecoder(micro_sam_predictor, reference_decoder)
    segmenter.initialize(hela_crop, image_embeddings=embeddings)
    state = segmenter.get_state()

    maps = predict_ais_maps(ours, np.asarray(embeddings["features"]), embeddings["input_size"], embeddings["original_size"])
    for got, name in zip(maps, ("foreground", "center_distances", "boundary_distances")):
        assert got.shape == hela_crop.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, state[name], atol=1e-5, rtol=1e-4)
    assert np.ptp(maps[0]) > 1e-3  # not a constant output


def test_decoder_rejects_foreign_state():
    with pytest.raises(ValueError):
        build_ais_decoder({"out_conv.weight": torch.zeros(3, 64, 1, 1)})


# --- tiling -----------------------------------------------------------------------------------


class _FakeDecoder(torch.nn.Module):
    """Cheap stand-in for micro_sam's DecoderAdapter: outputs depend on the tile's embeddings."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(7)
        self.conv = torch.nn.Conv2d(256, 3, 1)

    def _forward_impl(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(F.interpolate(self.conv(x), (1024, 1024), mode="bilinear", align_corners=False))

    def postprocess_masks(self, x, input_size, original_size):
        x = x[..., : input_size[0], : input_size[1]]
        return F.interpolate(x, tuple(original_size), mode="bilinear", align_corners=False)


def test_tiled_maps_are_stitched_like_micro_sam(micro_sam_predictor, hela_crop):
    from micro_sam.instance_segmentation import TiledInstanceSegmentationWithDecoder
    from micro_sam.util import precompute_image_embeddings

    tile_shape, halo = (128, 160), (32, 32)
    embeddings = precompute_image_embeddings(micro_sam_predictor, hela_crop, tile_shape=tile_shape, halo=halo, verbose=False)
    decoder = _FakeDecoder()
    segmenter = TiledInstanceSegmentationWithDecoder(micro_sam_predictor, decoder)
    with torch.no_grad():
        segmenter.initialize(hela_crop, image_embeddings=embeddings)
    state = segmenter.get_state()

    grid = make_grid(hela_crop.shape, tile_shape, halo)
    tile_maps = []
    for tile in grid.tiles:
        features = embeddings["features"][str(tile.index)]
        with torch.no_grad():
            out = decoder.postprocess_masks(decoder._forward_impl(torch.from_numpy(features[:])),
                                            features.attrs["input_size"], features.attrs["original_size"])
        assert tuple(out.shape[-2:]) == tile.shape
        tile_maps.append(AISMaps(*out[0].numpy()))
    ours = stitch_tile_maps(tile_maps, grid.tiles, hela_crop.shape)
    np.testing.assert_array_equal(ours.foreground, state["foreground"])
    np.testing.assert_array_equal(ours.center_distances, state["center_distances"])
    np.testing.assert_array_equal(ours.boundary_distances, state["boundary_distances"])


def _disk_labels(shape, centers, radius) -> np.ndarray:
    labels = np.zeros(shape, dtype=np.int32)
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    for i, (cy, cx) in enumerate(centers, start=1):
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = i
    return labels


def test_tiled_ais_never_splits_objects_at_tile_borders():
    shape, tile_shape, halo = (2048, 2048), (512, 512), (64, 64)
    # objects centred on tile borders, on a tile corner, and inside tiles
    centers = [(512, 300), (1024, 1024), (300, 1536), (1536, 1500), (700, 700), (1800, 200), (512, 1536)]
    truth = _disk_labels(shape, centers, radius=40)
    full = maps_from_labels(truth, noise=0.0)
    grid = make_grid(shape, tile_shape, halo)
    rng = np.random.default_rng(1)
    tile_maps = []
    for tile in grid.tiles:
        crops = [m[tile.outer_slices()].copy() for m in (full.foreground, full.center_distances, full.boundary_distances)]
        # garbage in the halo: stitching must only use the inner block of every tile
        y0, x0 = tile.offset
        halo_mask = np.ones(tile.shape, bool)
        halo_mask[tile.inner[0] - y0 : tile.inner[2] - y0, tile.inner[1] - x0 : tile.inner[3] - x0] = False
        for crop in crops:
            crop[halo_mask] = rng.random(int(halo_mask.sum()))
        tile_maps.append(AISMaps(*crops))
    stitched = stitch_tile_maps(tile_maps, grid.tiles, shape)
    labels = ais_segment(stitched, AISParams(min_size=100))
    assert labels.max() == len(centers)
    for object_id in range(1, len(centers) + 1):
        found = np.unique(labels[truth == object_id])
        found = found[found > 0]
        assert len(found) == 1, f"object {object_id} split into {found}"
        assert (labels[truth == object_id] == found[0]).mean() > 0.95
    assert mean_segmentation_accuracy(labels, truth) > 0.8
