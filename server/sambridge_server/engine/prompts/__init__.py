"""Interactive prompting: decode points, boxes and masks on cached embeddings; object handles.

Modules: ``decoding`` (prompts -> masks), ``many_objects`` (many objects per call), ``shared_decoder`` (the mask
decoder with the image-side work shared by all prompts), ``upsampling`` (masks from low-res
logits), ``windows`` (which embedding window decodes an object), ``objects`` (handles with undo),
``interactive`` (one object's accumulated prompts), ``corrections`` (micro_sam's corrective-click
rule), ``projection`` (prompts derived from a mask, for the next slice or frame).
"""

from .corrections import corrective_clicks
from .decoding import DecodeResult, decode, logits_from_mask
from .many_objects import decode_objects, paint_labels, paint_objects
from .interactive import SegmentResult, segment_object
from .objects import ObjectState, ObjectStore
from .projection import SlicePrompt, decode_prompts, project

__all__ = [
    "DecodeResult", "ObjectState", "ObjectStore", "SegmentResult", "SlicePrompt", "corrective_clicks",
    "decode", "decode_objects", "decode_prompts", "logits_from_mask", "paint_labels", "paint_objects", "project",
    "segment_object",
]
