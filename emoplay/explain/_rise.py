"""Random-mask saliency (RISE: Petsiuk, Das and Saenko, BMVC 2018): the map for one face.

The crop is classified again under ``masks`` random masks. Each mask is a coarse grid of cells,
each cell kept with probability ``keep``, smoothly upsampled to the crop and shifted by a random
fraction of a cell; where a mask is 0 the crop shows the model's mean grey (0 after
normalisation, like the occlusion patch). A pixel's value is the mean probability of the
explained class over the masks weighted by how visible the pixel was, minus the mean weighted by
how hidden it was: "how much more likely the class is when this pixel is seen".

Why not only occlusion: hiding one small square of a confident face rarely moves its
probability (a broad smile is spread over the mouth, the cheeks and the eyes), so a single
face's occlusion map is mostly noise; random masks hide half the face at a time, in every
combination, so each region's share of the decision shows even when no single square decides.
The masks come from a fixed seed, so the same crop gives the same map.

Units are probability (-1..1): 0.2 at a pixel means the class was on average 0.2 more likely in
the masked crops where the pixel was visible than in those where it was hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class RiseOptions:
    """The random masks (sizes in model-input pixels)."""

    masks: int = 500  # model runs per face; fewer is faster and noisier
    grid: int = 8  # cells per side of each mask's coarse grid: 8 cells of 6 pixels on a 48-pixel crop
    keep: float = 0.5  # share of the cells that stay visible
    seed: int = 0  # the masks' random seed: fixed, so maps repeat exactly

    def __post_init__(self) -> None:
        for name in ("masks", "grid"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if not isinstance(self.keep, (int, float)) or isinstance(self.keep, bool) or not 0 < self.keep < 1:
            raise ValueError(f"keep must be a share between 0 and 1 (exclusive), got {self.keep!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a whole number >= 0, got {self.seed!r}")

    def runs_per_face(self) -> int:
        """Model evaluations for one face: every masked crop plus the crop itself."""
        return self.masks + 1


@lru_cache(maxsize=4)
def random_masks(options: RiseOptions, size: int) -> np.ndarray:
    """float32 [masks, size, size] in 0..1, the same for the same options (read-only: shared between calls)."""
    import cv2

    if options.grid > size:
        raise ValueError(f"a grid of {options.grid} cells is finer than the model's {size}-pixel input")
    rng = np.random.default_rng(options.seed)
    cell = -(-size // options.grid)  # ceil
    span = (options.grid + 1) * cell  # one cell more than the crop, so that every shift still covers it
    cells = (rng.random((options.masks, options.grid + 1, options.grid + 1)) < options.keep).astype(np.float32)
    shifts = rng.integers(0, cell, (options.masks, 2))
    masks = np.empty((options.masks, size, size), np.float32)
    for i in range(options.masks):
        smooth = cv2.resize(cells[i], (span, span), interpolation=cv2.INTER_LINEAR)
        dy, dx = shifts[i]
        masks[i] = smooth[dy:dy + size, dx:dx + size]
    masks.setflags(write=False)
    return masks


def rise_maps(classifier, crops: np.ndarray, targets: np.ndarray | None, options: RiseOptions,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Maps [N, size, size] and unmasked probabilities [N, C] for gray crops [N, size, size] uint8.

    ``targets`` are the class indices to explain (``None``: each face's predicted class). One
    classifier call per face.
    """
    size = classifier.info.input_size
    fill = np.float32(255.0 * classifier.info.mean)  # the model's mean grey: 0 after normalisation
    masks = random_masks(options, size)
    visible = masks.sum(axis=0)
    hidden = (1.0 - masks).sum(axis=0)
    n = len(crops)
    maps = np.empty((n, size, size), np.float32)
    probs = np.empty((n, len(classifier.class_names)), np.float32)
    batch = np.empty((options.masks + 1, size, size), np.uint8)
    for i in range(n):
        crop = crops[i].astype(np.float32)
        batch[0] = crops[i]
        np.rint(fill + masks * (crop - fill), out=batch[1:], casting="unsafe")
        out = classifier.classify_crops(batch)
        probs[i] = out[0]
        target = int(np.argmax(out[0])) if targets is None else int(targets[i])
        p = out[1:, target].astype(np.float64)
        seen = np.tensordot(p, masks, axes=1) / visible
        unseen = (p.sum() - np.tensordot(p, masks, axes=1)) / hidden
        maps[i] = (seen - unseen).astype(np.float32)
    batch.fill(0)  # the masked copies of the faces live for this call only
    return maps, probs
