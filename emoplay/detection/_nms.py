"""Weighted non-maximum suppression (MediaPipe's ``NonMaxSuppressionCalculator``, algorithm WEIGHTED).

Candidates are taken in falling score order. The best remaining candidate and
every remaining one whose IoU with it is above the threshold (the best one
itself included) form a cluster; the cluster becomes one detection whose box
and keypoints are the score-weighted means of its members and whose score is
the best member's. The others go on to the next round.
"""

from __future__ import annotations

import numpy as np

from ._decode import Candidates


def iou_with(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box [4] with each of ``boxes`` [N, 4] (xmin, ymin, xmax, ymax)."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def weighted_nms(candidates: Candidates, min_suppression: float) -> Candidates:
    """One detection per cluster of overlapping candidates, best score first."""
    order = np.argsort(-candidates.scores, kind="stable")
    boxes, scores = candidates.boxes[order], candidates.scores[order]
    num_keypoints = candidates.keypoints.shape[1]
    # Boxes and keypoints side by side, so one product averages both: [N, 4 + 2 * keypoints].
    values = np.concatenate([boxes, candidates.keypoints[order].reshape(len(order), 2 * num_keypoints)], axis=1)
    merged, best_scores = [], []
    remaining = np.arange(len(scores))
    while len(remaining):
        best = remaining[0]
        in_cluster = iou_with(boxes[best], boxes[remaining]) > min_suppression
        in_cluster[0] = True  # the best one is always its own cluster's member, even if degenerate
        members = remaining[in_cluster]
        weights = scores[members]
        merged.append(weights @ values[members] / weights.sum())
        best_scores.append(scores[best])
        remaining = remaining[~in_cluster]
    merged = np.asarray(merged, np.float32).reshape(len(best_scores), 4 + 2 * num_keypoints)
    return Candidates(merged[:, :4], merged[:, 4:].reshape(-1, num_keypoints, 2),
                      np.asarray(best_scores, np.float32))
