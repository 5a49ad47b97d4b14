"""SAM2.1 models (Meta's hiera tiny/small/base+/large): loading, features, prompts, AMG, memory.

The ``sam2`` package (1.1.0) provides the networks and the automatic mask generator; this
subpackage loads Meta's checkpoints safely, keeps the image features in numpy containers the
embedding cache can hold, decodes prompts on them, and runs SAM2's memory propagation over the
slices of (z, y, x) / (t, y, x) arrays with progress and cancellation.

API:

* ``architectures``: ``MODEL_TYPES``, ``infer_model_type``, ``is_sam2_model_type``, ``looks_like_sam2``
* ``loading``: ``LoadedSam2``, ``load_sam2_checkpoint``, ``save_sam2_checkpoint``, ``build_sam2_model``
* ``features``: ``Sam2Features``, ``compute_sam2_features``
* ``decoding``: ``Sam2Prompt``, ``Sam2Masks``, ``decode_prompts``
* ``interactive``: ``segment_object`` (object handles: accumulated prompts plus the previous logits)
* ``amg``: ``Sam2AMGParams``, ``sam2_amg``, ``paint_labels``
* ``memory``: ``MemoryPropagator``, ``PropagatedFrame``
* ``propagation``: ``SlicePrompt``, ``propagate_stack``, ``correct``, ``paint_frame``
* ``testing``: ``make_nontrivial`` (random-weight models with meaningful masks, for tests/benches)
"""

from .amg import Sam2AMGParams, paint_labels, sam2_amg
from .architectures import MODEL_TYPES, infer_model_type, is_sam2_model_type, looks_like_sam2
from .decoding import Sam2Masks, Sam2Prompt, decode_prompts
from .features import Sam2Features, compute_sam2_features
from .loading import LoadedSam2, build_sam2_model, load_sam2_checkpoint, save_sam2_checkpoint
from .memory import MemoryPropagator, PropagatedFrame
from .propagation import SlicePrompt, correct, paint_frame, propagate_stack

__all__ = [
    "MODEL_TYPES", "LoadedSam2", "MemoryPropagator", "PropagatedFrame", "Sam2AMGParams", "Sam2Features",
    "Sam2Masks", "Sam2Prompt", "SlicePrompt", "build_sam2_model", "compute_sam2_features", "correct",
    "decode_prompts", "infer_model_type", "is_sam2_model_type", "load_sam2_checkpoint", "looks_like_sam2",
    "paint_frame", "paint_labels", "propagate_stack", "sam2_amg", "save_sam2_checkpoint",
]
