"""How faithful a saliency map is: deletion and insertion curves (Petsiuk et al., BMVC 2018).

*Deletion*: hide the crop's pixels in the map's order, most salient first, by setting them to
the model's mean grey, and follow the explained class's probability; a faithful map makes it
fall fast, so the area under the curve is small. *Insertion*: start from a heavily blurred
crop and restore the pixels in the same order; a faithful map makes the probability rise fast,
so the area is large. The same curves for a random order of the pixels are the floor a map
must beat. Areas are the mean probability over the fraction of pixels changed (0..1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEPS = 16  # points on each curve after the start: 144 pixels a step on a 48x48 crop
BLUR_SIGMA = 5.0  # the insertion curve's start: the crop blurred to a shapeless face (in pixels)


@dataclass(frozen=True)
class Faithfulness:
    deletion: float  # area under the deletion curve: lower is more faithful
    insertion: float  # area under the insertion curve: higher is more faithful


def pixel_order(saliency: np.ndarray) -> np.ndarray:
    """Flat pixel indices, most salient first (ties in reading order)."""
    return np.argsort(-np.asarray(saliency, np.float64).ravel(), kind="stable")


def curves(classifier, crop: np.ndarray, target: int, order: np.ndarray, steps: int = STEPS,
           ) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of class ``target`` along the deletion and the insertion curve ([steps + 1] each)."""
    import cv2

    size = crop.shape[0]
    grey = np.uint8(round(255.0 * classifier.info.mean))
    blurred = cv2.GaussianBlur(crop, (0, 0), BLUR_SIGMA).ravel()
    flat = crop.ravel()
    counts = np.linspace(0, flat.size, steps + 1).round().astype(int)
    batch = np.empty((2 * (steps + 1), flat.size), np.uint8)
    for k, count in enumerate(counts):
        chosen = order[:count]
        batch[k] = flat
        batch[k, chosen] = grey
        batch[steps + 1 + k] = blurred
        batch[steps + 1 + k, chosen] = flat[chosen]
    p = classifier.classify_crops(batch.reshape(-1, size, size))[:, target]
    batch.fill(0)
    return p[:steps + 1], p[steps + 1:]


def area(curve: np.ndarray) -> float:
    """Trapezoid area under a curve sampled evenly over 0..1."""
    curve = np.asarray(curve, np.float64)
    return float((curve[:-1] + curve[1:]).sum() / (2 * (len(curve) - 1)))


def faithfulness(classifier, crop: np.ndarray, target: int, saliency: np.ndarray, steps: int = STEPS,
                 ) -> Faithfulness:
    deletion, insertion = curves(classifier, crop, target, pixel_order(saliency), steps)
    return Faithfulness(area(deletion), area(insertion))


def random_faithfulness(classifier, crop: np.ndarray, target: int, seed: int, steps: int = STEPS) -> Faithfulness:
    """The same areas for a seeded random pixel order: what a map that knows nothing scores."""
    order = np.random.default_rng(seed).permutation(crop.size)
    deletion, insertion = curves(classifier, crop, target, order, steps)
    return Faithfulness(area(deletion), area(insertion))
