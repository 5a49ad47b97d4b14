"""Interactive tracking with SAM2 memory: the start object is SAM2's propagation of it, a declared
division ends the mother and starts two daughters with the mother as parent."""

from __future__ import annotations

import numpy as np

from sambridge_server.engine.sam2_models import MemoryPropagator
from sambridge_server.engine.sam2_models.tracking import follow_with_memory
from sambridge_server.engine.tracking.interactive import Division, ObjectAnnotation


def test_follow_with_a_division(ours, features, hela_frames, hela_nuclei):
    feats = [features(f"hela{t}", frame) for t, frame in enumerate(hela_frames)]
    (_, box, _), (_, box_a, _), (_, box_b, _) = hela_nuclei[1], hela_nuclei[2], hela_nuclei[3]
    start = ObjectAnnotation(t=0, box=box)
    division = Division(2, (ObjectAnnotation(t=2, box=box_a), ObjectAnnotation(t=2, box=box_b)))
    calls = []
    labels, tracks, reasons = follow_with_memory(ours, hela_frames.shape, lambda t: feats[t], start, [division],
                                                 progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (3, 3)
    assert set(np.unique(labels[:2])) <= {0, 1} and set(np.unique(labels[2])) <= {0, 2, 3}
    table = {int(row[0]): tuple(int(v) for v in row[1:]) for row in tracks}
    assert table[1][:2] == (0, 1) and table[2][0] == 2 and table[3][0] == 2
    assert table[2][2] == table[3][2] == 1 and reasons[1] == "divided at frame 2"
    # before the division only the start object lives: its masks are SAM2's propagation of it alone
    alone = MemoryPropagator(ours, 3, hela_frames.shape[1:], lambda t: feats[t])
    alone.add_prompt(0, 1, box=box)
    for result in alone.propagate(0, max_frames=1):
        np.testing.assert_array_equal(labels[result.frame] == 1, result.masks[0])
