"""SAM2's memory propagation (its video-predictor algorithm) over the slices of a stack.

``MemoryPropagator`` is ``SAM2VideoPredictor`` (sam2 1.1.0) without a folder of JPEGs: frames are
slices of a (z, y, x) or (t, y, x) array whose features come from a callable (the embedding
cache), so propagation and image prompts share one set of features. Per object it keeps what
SAM2 keeps (conditioning outputs from prompts, non-conditioning outputs from tracking, which
frames were tracked in which direction) and calls the model's own ``track_step`` and
``_encode_new_memory``, in SAM2's order, so the masks are SAM2's:

* ``add_prompt`` on a frame: points/box (SAM2's ``add_new_points_or_box``) or a mask
  (``add_new_mask``); on a frame never tracked it is an initial conditioning frame, on a tracked
  frame a correction that starts from that frame's previous logits. Corrections become
  conditioning frames (SAM2's ``add_all_frames_to_correct_as_cond``), so a later propagation
  keeps them; a correction re-propagates from its frame (``propagate(start=frame)``), forward,
  backward or both.
* ``propagate`` runs ``propagate_in_video``: memory-encodes the new prompts, then steps frame
  by frame in one direction; every object is tracked independently (as sam2 1.1.0 does), with
  the frame's features prepared once for all objects.

Memory is bounded. The model itself attends to at most ``num_maskmem`` memories (the
conditioning frames and the 6 previous frames) and ``max_obj_ptrs_in_encoder`` (16) object
pointers. SAM2's predictor keeps every frame's memory for the whole session; here at most
``max_memory_frames`` non-conditioning frames per object are kept. Frames the model may still
read (the 16 nearest the current frame and those within 16 of a conditioning frame, which the
backward pass reads) are never dropped, so a propagation is exactly SAM2's; only a later
correction far from every kept frame finds fewer memories than SAM2 would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import Cancelled, FailedPrecondition, InvalidInput
from .features import Sam2Features, backbone_out
from .loading import LoadedSam2

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]
FeatureSource = Callable[[int], Sam2Features]
FILL_HOLE_AREA = 8  # sam2.build_sam2_video_predictor's post-processing
_CLAMP = 32.0
NO_OBJECT_SCORE = -1024.0  # sam2's NO_OBJ_SCORE: the logits of an absent object


@dataclass
class PropagatedFrame:
    """One frame's result: the objects' ids and their logits and masks at the frame's size."""

    frame: int
    object_ids: list[int]
    logits: np.ndarray  # (n_objects, H, W) float32

    @property
    def masks(self) -> np.ndarray:
        """(n_objects, H, W) bool masks (logits > 0)."""
        return self.logits > 0


@dataclass
class _Track:
    """SAM2's per-object state: outputs by frame, prompts not yet memory-encoded, tracked frames."""

    output: dict[str, dict[int, dict]] = field(
        default_factory=lambda: {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}})
    pending: dict[str, dict[int, dict]] = field(
        default_factory=lambda: {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}})
    tracked: dict[int, bool] = field(default_factory=dict)  # frame -> tracked in reverse
    point_inputs: dict[int, dict] = field(default_factory=dict)


def _fill_holes(mask_logits: torch.Tensor) -> torch.Tensor:
    """sam2's hole filling, where its compiled extension exists (sam2 itself skips it otherwise)."""
    try:
        from sam2 import _C  # noqa: F401
    except ImportError:
        return mask_logits
    from sam2.utils.misc import fill_holes_in_mask_scores

    return fill_holes_in_mask_scores(mask_logits, FILL_HOLE_AREA)


class MemoryPropagator:
    """SAM2 memory propagation through the ``n_frames`` slices of one stack (see the module doc)."""

    def __init__(
        self,
        model: LoadedSam2 | Any,
        n_frames: int,
        frame_shape: tuple[int, int],
        features: FeatureSource,
        max_memory_frames: int = 64,
        corrections_as_conditioning: bool = True,
    ) -> None:
        """``features(frame)`` gives a frame's untiled ``Sam2Features`` (from a cache or computed)."""
        self.net = model.model if isinstance(model, LoadedSam2) else model
        if n_frames < 1:
            raise InvalidInput(f"a stack needs at least one slice, got {n_frames}")
        self.n_frames = int(n_frames)
        self.frame_shape = (int(frame_shape[0]), int(frame_shape[1]))
        self.features = features
        self.max_memory_frames = max(int(max_memory_frames), 1)
        self.corrections_as_conditioning = corrections_as_conditioning
        self.tracks: dict[int, _Track] = {}
        self._maskmem_pos_enc: list[torch.Tensor] | None = None
        self._frame_cache: tuple[int, tuple] | None = None
        n_ptrs = getattr(self.net, "max_obj_ptrs_in_encoder", 16)
        self._reach = max(int(self.net.num_maskmem) * int(self.net.memory_temporal_stride_for_eval), int(n_ptrs))

    # ---- helpers -------------------------------------------------------------------------
    @property
    def object_ids(self) -> list[int]:
        """Object ids in the order they were first prompted (the order of every result)."""
        return list(self.tracks)

    def _check_frame(self, frame: int) -> int:
        if not 0 <= int(frame) < self.n_frames:
            raise InvalidInput(f"slice {frame} is outside the stack's {self.n_frames} slices")
        return int(frame)

    def _vision(self, frame: int) -> tuple:
        """(vision_feats, vision_pos_embeds, feat_sizes) of a frame, prepared once per frame."""
        if self._frame_cache is None or self._frame_cache[0] != frame:
            features = self.features(frame)
            if features.n_tiles != 1:
                raise InvalidInput("memory propagation needs whole-slice (untiled) SAM2 features")
            if tuple(features.image_shape) != self.frame_shape:
                raise InvalidInput(f"features of slice {frame} are {features.image_shape}, the stack {self.frame_shape}")
            _, feats, pos, sizes = self.net._prepare_backbone_features(backbone_out(self.net, features))
            self._frame_cache = (frame, (feats, pos, sizes))
        return self._frame_cache[1]

    def _video_res(self, low_res: torch.Tensor) -> np.ndarray:
        """(n, 1, 256, 256) logits -> (n, H, W) float32 at the frame's size (bilinear, as SAM2)."""
        return F.interpolate(low_res.float(), size=self.frame_shape, mode="bilinear",
                             align_corners=False)[:, 0].cpu().numpy()

    def _maskmem_pos(self, encoded: list[torch.Tensor] | None) -> list[torch.Tensor] | None:
        """SAM2 keeps one copy of the (frame-independent) memory position encoding."""
        if encoded is None:
            return None
        if self._maskmem_pos_enc is None:
            self._maskmem_pos_enc = [x[0:1].clone() for x in encoded]
        return [x.expand(encoded[0].size(0), -1, -1, -1) for x in self._maskmem_pos_enc]

    def _step(self, track: _Track, frame: int, is_init_cond: bool, point_inputs: dict | None,
              mask_inputs: torch.Tensor | None, reverse: bool, run_mem_encoder: bool,
              prev_logits: torch.Tensor | None = None) -> tuple[dict, torch.Tensor]:
        """SAM2VideoPredictor._run_single_frame_inference for one object -> (compact output, mask logits)."""
        feats, pos, sizes = self._vision(frame)
        out = self.net.track_step(
            frame_idx=frame, is_init_cond_frame=is_init_cond, current_vision_feats=feats,
            current_vision_pos_embeds=pos, feat_sizes=sizes, point_inputs=point_inputs, mask_inputs=mask_inputs,
            output_dict=track.output, num_frames=self.n_frames, track_in_reverse=reverse,
            run_mem_encoder=run_mem_encoder, prev_sam_mask_logits=prev_logits)
        maskmem = out["maskmem_features"]
        if maskmem is not None:
            maskmem = maskmem.to(torch.bfloat16)
        pred_masks = _fill_holes(out["pred_masks"])
        compact = {"maskmem_features": maskmem, "maskmem_pos_enc": self._maskmem_pos(out["maskmem_pos_enc"]),
                   "pred_masks": pred_masks, "obj_ptr": out["obj_ptr"],
                   "object_score_logits": out["object_score_logits"]}
        return compact, pred_masks

    # ---- prompts ---------------------------------------------------------------------------
    @torch.inference_mode()
    def add_prompt(
        self,
        frame: int,
        object_id: int,
        points: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        clear_old_points: bool = True,
    ) -> np.ndarray:
        """Prompt ``object_id`` on ``frame``; returns its (H, W) logits there.

        Points (x, y) with labels 1/0 and/or a box (x0, y0, x1, y1) in slice pixels, or a (H, W)
        mask; not both kinds. ``clear_old_points=False`` adds points to the frame's earlier ones.
        """
        frame = self._check_frame(frame)
        has_points = points is not None or box is not None
        if has_points == (mask is not None):
            raise InvalidInput("a slice prompt is points and/or a box, or a mask (exactly one kind)")
        track = self.tracks.setdefault(int(object_id), _Track())
        is_init_cond = frame not in track.tracked
        reverse = False if is_init_cond else track.tracked[frame]
        is_cond = is_init_cond or self.corrections_as_conditioning
        key = "cond_frame_outputs" if is_cond else "non_cond_frame_outputs"
        if mask is not None:
            mask_inputs = self._mask_input(mask)
            track.point_inputs.pop(frame, None)
            out, logits = self._step(track, frame, is_init_cond, None, mask_inputs, reverse, False)
        else:
            point_inputs = self._point_input(points, labels, box, track.point_inputs.get(frame),
                                             clear_old_points)
            track.point_inputs[frame] = point_inputs
            previous = track.pending[key].get(frame) or track.output["cond_frame_outputs"].get(frame) or \
                track.output["non_cond_frame_outputs"].get(frame)
            prev_logits = None
            if previous is not None and previous["pred_masks"] is not None:
                prev_logits = torch.clamp(previous["pred_masks"], -_CLAMP, _CLAMP)
            out, logits = self._step(track, frame, is_init_cond, point_inputs, None, reverse, False, prev_logits)
        track.pending[key][frame] = out
        return self._video_res(logits)[0]

    def _point_input(self, points, labels, box, previous: dict | None, clear_old: bool) -> dict:
        """SAM2's point input: box corners first (labels 2, 3), coordinates scaled to the model's input."""
        if (points is None) != (labels is None):
            raise InvalidInput("points and labels must be given together")
        coords = np.zeros((0, 2), np.float32) if points is None else np.asarray(points, np.float32).reshape(-1, 2)
        point_labels = np.zeros(0, np.int32) if labels is None else np.asarray(labels, np.int32).reshape(-1)
        if len(coords) != len(point_labels) or not np.isin(point_labels, (0, 1)).all():
            raise InvalidInput("every point needs a label 1 (positive) or 0 (negative)")
        if box is not None:
            if not clear_old:
                raise InvalidInput("a box replaces the slice's earlier points (clear_old_points must be True)")
            corners = np.asarray(box, np.float32).reshape(2, 2)
            coords = np.concatenate([corners, coords])
            point_labels = np.concatenate([np.array([2, 3], np.int32), point_labels])
        if not np.isfinite(coords).all() or len(coords) == 0:
            raise InvalidInput("a slice prompt needs finite points or a box")
        height, width = self.frame_shape
        scaled = torch.from_numpy(coords)[None] / torch.tensor([width, height]) * self.net.image_size
        new = {"point_coords": scaled.to(self.net.device),
               "point_labels": torch.from_numpy(point_labels)[None].to(self.net.device)}
        if clear_old or previous is None:
            return new
        return {"point_coords": torch.cat([previous["point_coords"], new["point_coords"]], dim=1),
                "point_labels": torch.cat([previous["point_labels"], new["point_labels"]], dim=1)}

    def _mask_input(self, mask: np.ndarray) -> torch.Tensor:
        """SAM2's mask input: the mask resized to the model's input (antialiased bilinear, >= 0.5)."""
        mask = np.asarray(mask)
        if mask.shape != self.frame_shape:
            raise InvalidInput(f"a mask prompt must be {self.frame_shape}, got {mask.shape}")
        tensor = torch.from_numpy(mask.astype(bool))[None, None].float().to(self.net.device)
        size = self.net.image_size
        if tensor.shape[-2:] != (size, size):
            tensor = F.interpolate(tensor, size=(size, size), align_corners=False, mode="bilinear", antialias=True)
            tensor = (tensor >= 0.5).float()
        return tensor

    # ---- propagation -----------------------------------------------------------------------
    def _preflight(self) -> None:
        """SAM2's propagate_in_video_preflight: memory-encode new prompts and file them."""
        if not self.tracks:
            raise FailedPrecondition("no object has a prompt yet: add a prompt before propagating")
        for object_id, track in self.tracks.items():
            for key in ("non_cond_frame_outputs", "cond_frame_outputs"):
                for frame, out in track.pending[key].items():
                    if out["maskmem_features"] is None:
                        feats, _, sizes = self._vision(frame)
                        high_res = F.interpolate(out["pred_masks"], size=(self.net.image_size,) * 2,
                                                 mode="bilinear", align_corners=False)
                        maskmem, pos = self.net._encode_new_memory(
                            current_vision_feats=feats, feat_sizes=sizes, pred_masks_high_res=high_res,
                            object_score_logits=out["object_score_logits"], is_mask_from_pts=True)
                        out["maskmem_features"] = maskmem.to(torch.bfloat16)
                        out["maskmem_pos_enc"] = self._maskmem_pos(pos)
                    track.output[key][frame] = out
                track.pending[key].clear()
            if not track.output["cond_frame_outputs"]:
                raise FailedPrecondition(f"object {object_id} has no prompt on any slice")
            for frame in track.output["cond_frame_outputs"]:
                track.output["non_cond_frame_outputs"].pop(frame, None)

    def order(self, start: int | None = None, reverse: bool = False, max_frames: int | None = None) -> Sequence[int]:
        """The frames ``propagate`` visits, in order (SAM2's processing order)."""
        if start is None:
            conditioned = [f for track in self.tracks.values() for outputs in (track.output, track.pending)
                           for f in outputs["cond_frame_outputs"]]
            if not conditioned:
                raise FailedPrecondition("no object has a prompt yet: add a prompt before propagating")
            start = min(conditioned)
        start = self._check_frame(start)
        count = self.n_frames if max_frames is None else int(max_frames)
        if reverse:
            end = max(start - count, 0)
            return range(start, end - 1, -1) if start > 0 else []
        return range(start, min(start + count, self.n_frames - 1) + 1)

    def _evict(self, track: _Track, current: int) -> None:
        """Drop the non-conditioning frames no future step can read, farthest first, beyond the bound."""
        stored = track.output["non_cond_frame_outputs"]
        if len(stored) <= self.max_memory_frames:
            return
        cond = list(track.output["cond_frame_outputs"])
        protected = {f for f in stored if abs(f - current) <= self._reach
                     or any(abs(f - c) <= self._reach for c in cond)}
        for frame in sorted((f for f in stored if f not in protected), key=lambda f: -abs(f - current)):
            if len(stored) <= self.max_memory_frames:
                break
            del stored[frame]

    @torch.inference_mode()
    def propagate(
        self,
        start: int | None = None,
        reverse: bool = False,
        max_frames: int | None = None,
        progress: ProgressFn | None = None,
        cancelled: CancelledFn | None = None,
        active: Callable[[int, int], bool] | None = None,
    ) -> Iterator[PropagatedFrame]:
        """SAM2's ``propagate_in_video``: yield every frame from ``start`` in one direction.

        ``start`` defaults to the earliest prompted frame. ``cancelled()`` is polled before every
        frame (Cancelled); ``progress(done, total)`` follows every frame. ``active(object_id,
        frame)`` (ours, for tracks that begin or end inside the stack) may skip an object on a
        frame: it is not computed there (logits: SAM2's "no object" score) and leaves no memory; objects are
        independent, so the others are unaffected.
        """
        self._preflight()
        order = self.order(start, reverse, max_frames)
        ids = self.object_ids
        for done, frame in enumerate(order, start=1):
            if cancelled is not None and cancelled():
                raise Cancelled("memory propagation was cancelled")
            per_object = []
            for object_id, track in self.tracks.items():
                if active is not None and not active(object_id, frame):
                    per_object.append(torch.full((1, 1) + tuple(self._low_res_shape()), NO_OBJECT_SCORE))
                    continue
                cond = track.output["cond_frame_outputs"]
                if frame in cond:
                    logits = cond[frame]["pred_masks"]
                else:
                    out, logits = self._step(track, frame, False, None, None, reverse, True)
                    track.output["non_cond_frame_outputs"][frame] = out
                track.tracked[frame] = reverse
                per_object.append(logits)
                self._evict(track, frame)
            if progress is not None:
                progress(done, len(order))
            yield PropagatedFrame(frame, ids, self._video_res(torch.cat(per_object)))

    def _low_res_shape(self) -> tuple[int, int]:
        side = self.net.image_size // 4
        return side, side

    def cond_logits(self, object_id: int, frame: int) -> np.ndarray | None:
        """(H, W) logits of an object's prompt on a conditioning frame (after ``propagate`` started), or None."""
        out = self.tracks[object_id].output["cond_frame_outputs"].get(frame)
        return None if out is None else self._video_res(out["pred_masks"])[0]

    def stored_frames(self) -> dict[int, int]:
        """Non-conditioning frames held per object (what the memory bound limits)."""
        return {object_id: len(track.output["non_cond_frame_outputs"]) for object_id, track in self.tracks.items()}
