"""Raw BlazeFace outputs to scored candidate boxes (MediaPipe's ``TensorsToDetectionsCalculator`` settings).

Each row of ``regressors`` (one per anchor) holds, in input pixels (0-128 or 0-192) and
relative to its anchor's centre: the box centre x, y, its width, height, then
x, y of 6 keypoints (right eye, left eye, nose tip, mouth, right ear, left ear,
as seen by the subject). ``classificators`` holds one logit per anchor; the
score is its sigmoid after clipping the logit to [-100, 100].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._anchors import INPUT_SIZE

SCORE_CLIPPING = 100.0
NUM_KEYPOINTS = 6


@dataclass(frozen=True)
class Candidates:
    """Detections in fractions of the model input: boxes [N, 4] xmin, ymin, xmax, ymax; keypoints [N, 6, 2]."""

    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def sigmoid_scores(logits: np.ndarray) -> np.ndarray:
    clipped = np.clip(logits.astype(np.float64), -SCORE_CLIPPING, SCORE_CLIPPING)  # exp(100) overflows float32
    return 1.0 / (1.0 + np.exp(-clipped))


def decode(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray, min_score: float,
           scale: float = INPUT_SIZE) -> Candidates:
    """The anchors whose score is at least ``min_score``, decoded; ``regressors`` [N, 16], ``logits`` [N]."""
    logits = logits.reshape(-1)
    # sigmoid(x) >= p exactly when x >= log(p / (1 - p)): compare the logits, take the sigmoid of the few kept.
    # The margin keeps every anchor that rounding could put at the threshold; the exact test follows.
    keep = np.flatnonzero(logits >= np.log(min_score / (1 - min_score)) - 1e-4)
    scores = sigmoid_scores(logits[keep])
    exact = scores >= min_score
    keep, scores = keep[exact], scores[exact]
    raw = regressors.reshape(len(anchors), -1)[keep] / scale
    centres = anchors[keep]
    box_centre = raw[:, 0:2] + centres
    half = raw[:, 2:4] / 2  # anchors are 1x1 (fixed anchor size), so width and height need no anchor scaling
    boxes = np.concatenate([box_centre - half, box_centre + half], axis=1)
    keypoints = raw[:, 4:4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) + centres[:, None, :]
    return Candidates(boxes, keypoints, scores)
