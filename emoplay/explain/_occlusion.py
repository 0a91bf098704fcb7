"""Occlusion sensitivity: which parts of a face crop the emotion model's decision depends on.

A square patch of the model's mean grey slides over the 48x48 crop the classifier sees. For
every position the class probability is measured again; the drop of the explained class's
probability is credited to every pixel the patch covered, and each pixel's value is the mean
drop over the patches that covered it. All occluded crops of one face (and the unoccluded
one) go through the model in one batch. Plain numpy around the classifier; no randomness, so
the same crop always gives the same map.

Units are probability (0..1): 0.3 at a pixel means hiding the patches around it lowered the
explained class's probability by 0.3 on average. Negative values: hiding that region made the
class *more* likely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OcclusionOptions:
    """How the occluder moves over the model's input crop (sizes in model-input pixels, 48 for 48x48)."""

    patch: int = 8  # side of the grey square; the map cannot resolve anything smaller
    stride: int = 4  # step between positions; smaller is smoother and costs (48 / stride)^2 model runs

    def __post_init__(self) -> None:
        for name in ("patch", "stride"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of pixels >= 1, got {value!r}")
        if self.stride > self.patch:
            raise ValueError(f"stride {self.stride} > patch {self.patch} leaves pixels no patch covers; "
                             "use a stride of at most the patch size")

    def positions(self, size: int) -> list[int]:
        """Top-left corners along one axis of a ``size``-pixel crop; the last patch touches the far edge."""
        if self.patch > size:
            raise ValueError(f"patch {self.patch} is larger than the model's {size}-pixel input")
        starts = list(range(0, size - self.patch + 1, self.stride))
        if starts[-1] != size - self.patch:
            starts.append(size - self.patch)
        return starts

    def runs_per_face(self, size: int) -> int:
        """Model evaluations for one face: every occluded crop plus the crop itself."""
        return len(self.positions(size)) ** 2 + 1


def occluded_batch(crop: np.ndarray, options: OcclusionOptions, fill: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The crop itself followed by one copy per patch position with the patch set to ``fill``."""
    size = crop.shape[0]
    starts = options.positions(size)
    corners = [(y, x) for y in starts for x in starts]
    batch = np.empty((len(corners) + 1, size, size), np.uint8)
    batch[:] = crop
    p = options.patch
    for i, (y, x) in enumerate(corners, start=1):
        batch[i, y:y + p, x:x + p] = fill
    return batch, corners


def drops_to_map(drops: np.ndarray, corners: list[tuple[int, int]], size: int, patch: int) -> np.ndarray:
    """Per-pixel mean of the probability drops of the patches covering it, float32 [size, size]."""
    total = np.zeros((size, size), np.float64)
    count = np.zeros((size, size), np.float64)
    for drop, (y, x) in zip(drops, corners):
        total[y:y + patch, x:x + patch] += drop
        count[y:y + patch, x:x + patch] += 1.0
    return (total / count).astype(np.float32)


def occlusion_maps(classifier, crops: np.ndarray, targets: np.ndarray | None, options: OcclusionOptions,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Maps [N, size, size] and unoccluded probabilities [N, C] for gray crops [N, size, size] uint8.

    ``targets`` are the class indices to explain (``None``: each face's predicted class). One
    classifier call per face.
    """
    size = classifier.info.input_size
    fill = int(round(255.0 * classifier.info.mean))  # the model's mean grey: 0 after normalisation
    n = len(crops)
    maps = np.empty((n, size, size), np.float32)
    probs = np.empty((n, len(classifier.class_names)), np.float32)
    for i in range(n):
        batch, corners = occluded_batch(crops[i], options, fill)
        out = classifier.classify_crops(batch)
        probs[i] = out[0]
        target = int(np.argmax(out[0])) if targets is None else int(targets[i])
        maps[i] = drops_to_map(out[0, target] - out[1:, target], corners, size, options.patch)
    return maps, probs
