"""Fill detection gaps: a track that skips frames gets an object in each missed frame.

A link across a gap joins a cell seen before and after frames where the segmentation missed
it. CTC tables must keep such a cell as two tracks (the second one's parent is the first), and
the CTC metrics charge the link as an extra edge while the missed object stays missing. When
the segmentation is the server's own (AIS), a missed detection is an error of ours, not a fact
of the data: here the object is drawn into each missed frame, moved along the straight line
between its two ends, on background pixels only, and the two tracks become one. User-given
labels are never filled (their gaps may be real: a cell leaving focus).
"""

from __future__ import annotations

import numpy as np


def gap_links(tracks: np.ndarray) -> list[tuple[int, int]]:
    """``(parent, child)`` track ids of the links across gaps in a CTC ``L B E P`` table.

    A gap link is a parent with exactly one child that begins more than one frame after the
    parent ends (two children are a division, even when late). Ordered by the parent's end.
    """
    rows = {int(r[0]): r for r in np.asarray(tracks).reshape(-1, 4)}
    children: dict[int, list[int]] = {}
    for label, _, _, parent in rows.values():
        if parent:
            children.setdefault(int(parent), []).append(int(label))
    links = [
        (parent, kids[0])
        for parent, kids in children.items()
        if len(kids) == 1 and parent in rows and rows[kids[0]][1] > rows[parent][2] + 1
    ]
    return sorted(links, key=lambda link: int(rows[link[0]][2]))


def moved_mask(mask: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``mask`` translated by ``shift`` (dy, dx), rounded to whole pixels, cut at the frame."""
    ys, xs = np.nonzero(mask)
    dy, dx = np.rint(shift).astype(int)
    ys, xs = ys + dy, xs + dx
    inside = (ys >= 0) & (ys < mask.shape[0]) & (xs >= 0) & (xs < mask.shape[1])
    out = np.zeros_like(mask)
    out[ys[inside], xs[inside]] = True
    return out


def looks_like_the_cell(image: np.ndarray, labels: np.ndarray, drawn: np.ndarray, cell_mean: float,
                        share: float = 0.5) -> bool:
    """Whether the image under ``drawn`` is closer to the cell than to the background.

    True when the mean intensity under ``drawn`` lies at least ``share`` of the way from the
    frame's background (median of unlabelled pixels) to ``cell_mean``, in either polarity.
    """
    background = labels == 0
    if not background.any():
        return True
    floor = float(np.median(image[background]))
    contrast = cell_mean - floor
    return contrast == 0 or (float(image[drawn].mean()) - floor) / contrast >= share


def fill_gaps(labels: np.ndarray, tracks: np.ndarray, image: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw every gap-linked cell into its missed frames and merge its two tracks.

    ``labels`` is a ``(t, y, x)`` track-id series and ``tracks`` its CTC table (as
    ``track_labels`` returns them). In frame ``t`` of a gap from ``(t0, mask0)`` to
    ``(t1, mask1)`` the nearer end's mask is moved by its share of the centroid displacement.
    A gap whose drawn object would find no free pixel in some frame stays a gap; so does one
    where ``image`` (``(t, y, x)`` intensities, optional) shows background rather than the cell
    under the drawn object (the cell really left: out of focus, out of the frame). Returns new
    arrays; the child track's id disappears, its own children get the merged parent.
    """
    labels = labels.copy()
    table = {int(r[0]): [int(v) for v in r] for r in np.asarray(tracks).reshape(-1, 4)}
    merged_into: dict[int, int] = {}

    def root(label: int) -> int:
        while label in merged_into:
            label = merged_into[label]
        return label

    for parent, child in gap_links(tracks):
        parent = root(parent)
        end, begin = table[parent][2], table[child][1]
        first, last = labels[end] == parent, labels[begin] == child
        if not first.any() or not last.any():
            continue
        displacement = np.argwhere(last).mean(axis=0) - np.argwhere(first).mean(axis=0)
        drawn = {}
        for t in range(end + 1, begin):
            share = (t - end) / (begin - end)
            mask, shift = (first, displacement * share) if share <= 0.5 else (last, displacement * (share - 1))
            drawn[t] = moved_mask(mask, shift) & (labels[t] == 0)
        if not all(mask.any() for mask in drawn.values()):
            continue  # no free pixels there: a CTC track must show in every frame it spans, so keep the gap
        if image is not None:
            cell_mean = float(np.mean([image[end][first].mean(), image[begin][last].mean()]))
            if not all(looks_like_the_cell(image[t], labels[t], mask, cell_mean) for t, mask in drawn.items()):
                continue
        for t, mask in drawn.items():
            labels[t][mask] = parent
        child_frames = labels[begin : table[child][2] + 1]
        child_frames[child_frames == child] = parent
        table[parent][2] = table[child][2]
        for row in table.values():
            if row[3] == child:
                row[3] = parent
        del table[child]
        merged_into[child] = parent
    return renumber(labels, np.array(sorted(table.values()), dtype=np.int64).reshape(-1, 4))


def renumber(labels: np.ndarray, tracks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Track ids 1..n again (in the order of the old ids), in the labels and the table."""
    lookup = np.zeros(int(max(labels.max(initial=0), tracks[:, 0].max(initial=0))) + 1, dtype=labels.dtype)
    lookup[tracks[:, 0]] = np.arange(1, len(tracks) + 1)
    out = tracks.copy()
    out[:, 0] = lookup[tracks[:, 0]]
    out[:, 3] = lookup[tracks[:, 3]]  # lookup[0] = 0: no parent stays no parent
    return lookup[labels], out
