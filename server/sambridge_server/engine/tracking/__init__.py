"""Tracking over (t, y, x): automatic linking with divisions (motile) and interactive following.

Modules: ``graph`` (candidate objects and links), ``costs`` and ``divisions`` (the objective),
``solve`` (motile ILP, greedy fallback), ``linking`` (labels -> tracks and lineage), ``gaps``
(missed detections drawn into gap-linked tracks),
``interactive`` (follow one annotated object with SAM), ``motion`` (its motion model),
``metrics`` (TRA and link scores), ``ctc`` (Cell Tracking Challenge files), ``scip_gil`` (SCIP
solves without holding the GIL), ``tracker`` (tracking calls on stored images: link or follow).
"""

from .costs import TrackingCosts
from .ctc import read_ctc, write_ctc
from .interactive import Division, FollowOptions, InteractiveTrackingResult, ObjectAnnotation, track_object
from .linking import TrackingResult, track_labels
from .metrics import TrackingScores, evaluate_tracking
from .tracker import LinkOptions, Tracker, TrackingOutcome

__all__ = [
    "Division", "FollowOptions", "InteractiveTrackingResult", "LinkOptions", "ObjectAnnotation", "Tracker",
    "TrackingCosts", "TrackingOutcome", "TrackingResult", "TrackingScores", "evaluate_tracking", "read_ctc",
    "track_labels", "track_object", "write_ctc",
]
