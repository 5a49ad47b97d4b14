"""Tracking quality against a ground truth: the Cell Tracking Challenge TRA score and plain counts.

TRA = 1 - min(AOGM, AOGM_0) / AOGM_0 (Matula et al. 2015): AOGM is the weighted number of graph
edits turning the result into the reference (split 5, false negative 10, false positive 1,
redundant edge 1, missing edge 1.5, wrong edge type 1), AOGM_0 the cost of building the
reference from scratch. The edit counting and the division matching are py-ctcmetrics' (the
CTC's own Python implementation, ``pip install py-ctcmetrics==1.3.3``); the object matching runs
here in memory with the CTC rule: a result object matches a reference object when it covers
more than half of the reference object's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInput


@dataclass(frozen=True)
class TrackingScores:
    """TRA and intuitive counts for one sequence."""

    tra: float
    det: float
    """CTC detection score (vertex edits only)."""
    lnk: float
    """CTC linking score (edge edits only)."""
    aogm: float
    aogm_0: float
    operations: dict[str, int]
    """AOGM edit counts: NS (splits), FN, FP, ED (redundant), EA (missing), EC (wrong type)."""
    reference_tracks: int
    missed_tracks: int
    """Reference tracks none of whose objects is matched."""
    extra_tracks: int
    """Result tracks none of whose objects matches a reference object."""
    reference_divisions: int
    correct_divisions: int
    """Reference divisions found in the same frame with matching mother and daughters (BC(0) TP)."""
    missed_divisions: int
    extra_divisions: int
    link_precision: float = 1.0
    """Result links (track steps, gap links and daughter links) that are reference links."""
    link_recall: float = 1.0
    """Reference links found in the result."""

    @property
    def link_f1(self) -> float:
        """Harmonic mean of link precision and recall."""
        total = self.link_precision + self.link_recall
        return 2 * self.link_precision * self.link_recall / total if total else 0.0

    @property
    def division_recall(self) -> float:
        """Reference divisions found (1.0 when there are none)."""
        return self.correct_divisions / self.reference_divisions if self.reference_divisions else 1.0

    @property
    def division_precision(self) -> float:
        """Result divisions that are reference divisions (1.0 when the result has none)."""
        found = self.correct_divisions + self.extra_divisions
        return self.correct_divisions / found if found else 1.0


@dataclass(frozen=True)
class FrameMatches:
    """Per-frame object ids and the reference -> result matching (CTC input lists)."""

    labels_ref: list[list[int]]
    labels_comp: list[list[int]]
    mapped_ref: list[list[int]]
    mapped_comp: list[list[int]]


def match_objects(reference: np.ndarray, result: np.ndarray) -> FrameMatches:
    """Match objects frame by frame: result covers > 50 % of the reference object."""
    if reference.shape != result.shape:
        raise InvalidInput(f"reference {reference.shape} and result {result.shape} differ in shape")
    matches = FrameMatches([], [], [], [])
    for ref_frame, comp_frame in zip(reference, result):
        ref_ids, ref_inverse = np.unique(ref_frame, return_inverse=True)
        comp_ids, comp_inverse = np.unique(comp_frame, return_inverse=True)
        ref_inverse, comp_inverse = ref_inverse.ravel(), comp_inverse.ravel()
        codes = ref_inverse.astype(np.int64) * len(comp_ids) + comp_inverse
        codes, counts = np.unique(codes, return_counts=True)
        rows, columns = np.divmod(codes, len(comp_ids))
        ref_sizes = np.bincount(ref_inverse, minlength=len(ref_ids))
        hit = (ref_ids[rows] != 0) & (comp_ids[columns] != 0) & (2 * counts > ref_sizes[rows])
        matches.labels_ref.append([int(i) for i in ref_ids if i])
        matches.labels_comp.append([int(i) for i in comp_ids if i])
        matches.mapped_ref.append(ref_ids[rows[hit]].astype(np.int64).tolist())
        matches.mapped_comp.append(comp_ids[columns[hit]].astype(np.int64).tolist())
    return matches


def evaluate_tracking(
    reference_labels: np.ndarray,
    reference_tracks: np.ndarray,
    result_labels: np.ndarray,
    result_tracks: np.ndarray,
) -> TrackingScores:
    """Score a tracking result against a reference, both as CTC label series + ``L B E P`` tables."""
    # Deferred: py-ctcmetrics pulls in pandas and scikit-learn (~2 s import).
    from ctc_metrics.metrics import det, lnk, raw_division_metrics, tra
    from ctc_metrics.utils.representations import count_acyclic_graph_correction_operations

    ref_tracks = np.asarray(reference_tracks, dtype=np.int64).reshape(-1, 4)
    comp_tracks = np.asarray(result_tracks, dtype=np.int64).reshape(-1, 4)
    m = match_objects(reference_labels, result_labels)
    stats = count_acyclic_graph_correction_operations(
        ref_tracks, comp_tracks, m.labels_ref, m.labels_comp, m.mapped_ref, m.mapped_comp
    )
    tra_value, aogm, aogm_0 = tra(**stats)
    tp, fp, fn = raw_division_metrics(comp_tracks, ref_tracks, m.mapped_ref, m.mapped_comp, i=0)
    matched_ref = {label for frame in m.mapped_ref for label in frame}
    matched_comp = {label for frame in m.mapped_comp for label in frame}
    precision, recall = link_scores(ref_tracks, comp_tracks, m)
    return TrackingScores(
        tra=float(tra_value),
        det=float(det(**stats)),
        lnk=float(lnk(**stats)),
        aogm=float(aogm),
        aogm_0=float(aogm_0),
        operations={key: int(stats[key]) for key in ("NS", "FN", "FP", "ED", "EA", "EC")},
        reference_tracks=len(ref_tracks),
        missed_tracks=sum(1 for label in ref_tracks[:, 0].tolist() if label not in matched_ref),
        extra_tracks=sum(1 for label in comp_tracks[:, 0].tolist() if label not in matched_comp),
        reference_divisions=int(tp + fn),
        correct_divisions=int(tp),
        missed_divisions=int(fn),
        extra_divisions=int(fp),
        link_precision=precision,
        link_recall=recall,
    )


def track_links(labels_per_frame: list[list[int]], tracks: np.ndarray) -> set[tuple[int, int, int, int]]:
    """Links ``(t0, id0, t1, id1)`` of a CTC result: steps within a track, parent to child.

    A parent-to-child link joins the parent's last frame to the child's first (a gap link when
    the parent has one child, a daughter link when it has two).
    """
    present = [set(frame) for frame in labels_per_frame]
    ends = {int(label): (int(begin), int(end)) for label, begin, end, _ in tracks.tolist()}
    links = set()
    for label, begin, end, parent in tracks.tolist():
        frames = [t for t in range(begin, end + 1) if t < len(present) and label in present[t]]
        links |= {(a, label, b, label) for a, b in zip(frames, frames[1:])}
        if parent and parent in ends:
            links.add((ends[parent][1], int(parent), int(begin), int(label)))
    return links


def link_scores(ref_tracks: np.ndarray, comp_tracks: np.ndarray, m: FrameMatches) -> tuple[float, float]:
    """``(precision, recall)`` of the result's links against the reference's, via the object matching."""
    to_ref = {
        (t, comp): ref
        for t, (refs, comps) in enumerate(zip(m.mapped_ref, m.mapped_comp))
        for ref, comp in zip(refs, comps)
    }
    reference = track_links(m.labels_ref, ref_tracks)
    result = track_links(m.labels_comp, comp_tracks)
    mapped = {(t0, to_ref.get((t0, a)), t1, to_ref.get((t1, b))) for t0, a, t1, b in result}
    hits = len(mapped & reference)
    precision = hits / len(result) if result else 1.0
    recall = hits / len(reference) if reference else 1.0
    return precision, recall
