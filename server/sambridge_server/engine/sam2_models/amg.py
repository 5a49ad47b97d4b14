"""Automatic mask generation (AMG) with SAM2 models: sam2's own generator on cached features.

``SAM2AutomaticMaskGenerator`` is used as the implementation (point grid, batched decoding,
quality and stability filters, NMS, optional crop layers). Two small adapters make it serve the
engine: its predictor takes the whole-tile features from a ``Sam2Features`` instead of running
the encoder again (smaller crops of ``crop_n_layers > 0`` are still encoded by sam2), and each
point batch first checks ``cancelled()`` and then reports ``progress(done, total)``.

Tiled features run the generator per tile and keep the masks whose box centre lies in the
tile's inner block. Masks become uint32 labels as micro_sam paints them: largest first, so
smaller masks win where masks overlap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from ..errors import Cancelled, InvalidInput
from ..preprocess import to_uint8_rgb, validate_image
from .features import Sam2Features, decoder_inputs
from .loading import LoadedSam2

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]


@dataclass(frozen=True)
class Sam2AMGParams:
    """Parameters of ``SAM2AutomaticMaskGenerator`` (its defaults) plus the minimum object size."""

    points_per_side: int = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.8
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    crop_n_layers: int = 0
    crop_nms_thresh: float = 0.7
    crop_n_points_downscale_factor: int = 1
    min_mask_region_area: int = 0
    use_m2m: bool = False
    multimask_output: bool = True
    min_object_size: int = 0  # labels smaller than this are dropped after painting

    def generator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``SAM2AutomaticMaskGenerator``."""
        kwargs = asdict(self)
        kwargs.pop("min_object_size")
        return kwargs


def _generator(net: Any, features: Sam2Features, tile_index: int, params: Sam2AMGParams,
               report: Callable[[], None], cancelled: CancelledFn | None) -> Any:
    """A SAM2AutomaticMaskGenerator whose predictor reuses ``features`` and whose batches report."""
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    tile_hw = tuple(features.original_sizes[tile_index])

    class CachedPredictor(SAM2ImagePredictor):
        """SAM2ImagePredictor that takes the whole tile's features from the cache."""

        def set_image(self, image):  # noqa: D401 - sam2's signature
            if tuple(image.shape[:2]) != tile_hw:
                return super().set_image(image)  # a smaller crop: encode it as sam2 does
            self.reset_predictor()
            self._orig_hw = [tile_hw]
            embed, high_res = decoder_inputs(self.model, features, tile_index)
            self._features = {"image_embed": embed, "high_res_feats": high_res}
            self._is_image_set = True

    class ReportingGenerator(SAM2AutomaticMaskGenerator):
        """Checks cancellation before, and reports progress after, every point batch."""

        def _process_batch(self, *args, **kwargs):
            if cancelled is not None and cancelled():
                raise Cancelled("automatic mask generation was cancelled")
            result = super()._process_batch(*args, **kwargs)
            report()
            return result

    generator = ReportingGenerator(net, **params.generator_kwargs())
    generator.predictor = CachedPredictor(net, max_hole_area=params.min_mask_region_area,
                                          max_sprinkle_area=params.min_mask_region_area)
    return generator


def _n_batches(generator: Any, params: Sam2AMGParams) -> int:
    """Point batches one tile takes (all crop layers)."""
    per_batch = params.points_per_batch
    return sum((2 ** layer) ** 2 * -(-len(grid) // per_batch) if layer else -(-len(grid) // per_batch)
               for layer, grid in enumerate(generator.point_grids))


def paint_labels(masks: list[np.ndarray], image_shape: tuple[int, int], min_object_size: int = 0) -> np.ndarray:
    """Binary masks -> uint32 labels, largest painted first (smaller masks win overlaps), 1..n."""
    labels = np.zeros(image_shape, dtype=np.uint32)
    areas = [int(mask.sum()) for mask in masks]
    for seg_id, index in enumerate(np.argsort(-np.asarray(areas, dtype=np.int64), kind="stable"), start=1):
        labels[masks[index]] = seg_id
    ids, counts = np.unique(labels, return_counts=True)
    keep = ids[(ids > 0) & (counts >= max(min_object_size, 1))]
    lookup = np.zeros(int(labels.max()) + 1, dtype=np.uint32)
    lookup[keep] = np.arange(1, len(keep) + 1, dtype=np.uint32)
    return lookup[labels]


def sam2_amg(
    model: LoadedSam2 | Any,
    image2d: np.ndarray,
    features: Sam2Features,
    params: Sam2AMGParams = Sam2AMGParams(),
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
) -> np.ndarray:
    """uint32 instance labels of ``image2d`` from SAM2's automatic mask generator on ``features``."""
    net = model.model if isinstance(model, LoadedSam2) else model
    image2d = validate_image(image2d)
    if tuple(image2d.shape[:2]) != tuple(features.image_shape):
        raise InvalidInput(f"image {image2d.shape[:2]} and features {features.image_shape} differ in size")
    masks: list[np.ndarray] = []
    done, total = 0, 0

    def report() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    generators = [_generator(net, features, tile.index, params, report, cancelled) for tile in features.grid.tiles]
    total = sum(_n_batches(generator, params) for generator in generators)
    for tile, generator in zip(features.grid.tiles, generators):
        records = generator.generate(to_uint8_rgb(image2d[tile.outer_slices()]))
        y_off, x_off = tile.offset
        for record in records:
            x, y, w, h = record["bbox"]
            cy, cx = y_off + y + h / 2, x_off + x + w / 2
            iy0, ix0, iy1, ix1 = tile.inner
            if features.grid.is_tiled and not (iy0 <= cy < iy1 and ix0 <= cx < ix1):
                continue
            full = np.zeros(features.image_shape, dtype=bool)
            full[tile.outer_slices()] = record["segmentation"]
            masks.append(full)
    return paint_labels(masks, features.image_shape, params.min_object_size)

