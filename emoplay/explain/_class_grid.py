"""Mean saliency per class over a labelled data set (the model card's ``saliency_by_class.png``).

For every face the map explains the probability of its *true* class, so a class's mean map
shows where the model finds the evidence for that class, on right and wrong predictions
alike. The share of the positive saliency that falls in coarse bands of a FER2013-framed crop
(border ring, forehead and hair, brows and eyes, nose and cheeks, mouth and chin) puts numbers
on what the picture shows; a band's share above its share of the area means the model leans
on it. The bands are fixed fractions of the crop, not landmarks: they fit the average framing,
not every face.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ._saliency import SaliencyExplainer

BORDER = 1 / 12  # the outer ring, 4 pixels of a 48-pixel crop: background, hair, the crop's edge
# (name, first row, end row) as fractions of the crop's height, inside the border ring.
BANDS = (("forehead/hair", 0.0, 10 / 48), ("brows/eyes", 10 / 48, 22 / 48), ("nose/cheeks", 22 / 48, 32 / 48),
         ("mouth/chin", 32 / 48, 1.0))
REGIONS = ("border",) + tuple(name for name, _, _ in BANDS)


@dataclass(frozen=True)
class ClassSaliency:
    class_names: tuple[str, ...]
    counts: tuple[int, ...]  # faces per class
    mean_maps: np.ndarray  # float32 [C, S, S]: mean saliency of each class's faces for that class
    mean_faces: np.ndarray  # float32 [C, S, S]: the mean crop of each class
    accuracy: float  # share of faces whose predicted class is their true class
    ms_per_face: float  # wall time per face of computing its map
    source: str
    model_version: str
    patch: int
    stride: int

    def region_shares(self) -> dict[str, dict[str, float]]:
        """Per class: each region's share of the positive mean saliency; plus the regions' area shares."""
        size = self.mean_maps.shape[-1]
        masks = region_masks(size)
        out: dict[str, dict[str, float]] = {"area": {r: float(m.mean()) for r, m in masks.items()}}
        for name, mean_map in zip(self.class_names, self.mean_maps):
            positive = np.clip(mean_map, 0.0, None)
            total = float(positive.sum())
            out[name] = {r: (float(positive[m].sum()) / total if total > 0 else 0.0) for r, m in masks.items()}
        return out

    def mirror_symmetry(self) -> dict[str, float]:
        """Per class: correlation of the mean map with its left-right mirror image (1: symmetric)."""
        return {name: float(np.corrcoef(m.ravel(), m[:, ::-1].ravel())[0, 1]) if m.std() > 0 else 1.0
                for name, m in zip(self.class_names, self.mean_maps)}

    def to_text(self) -> str:
        shares = self.region_shares()
        lines = [f"data      {self.source}",
                 f"model     {self.model_version}; occlusion patch {self.patch}, stride {self.stride}; "
                 f"{self.ms_per_face:.0f} ms per face",
                 f"accuracy  {self.accuracy:.4f} (the unoccluded crops)",
                 "",
                 "share of each class's positive mean saliency per region (area: the region's share of the crop);",
                 "peak: the mean map's maximum; mirror: its correlation with its left-right mirror image",
                 f"{'class':<12}{'faces':>6}{'peak':>7}{'mirror':>7}" + "".join(f"{r:>15}" for r in REGIONS)]
        lines.append(f"{'area':<12}{'':>6}{'':>7}{'':>7}" + "".join(f"{shares['area'][r]:>15.2f}" for r in REGIONS))
        mirror = self.mirror_symmetry()
        for i, name in enumerate(self.class_names):
            lines.append(f"{name:<12}{self.counts[i]:>6}{float(self.mean_maps[i].max()):>7.3f}{mirror[name]:>7.2f}"
                         + "".join(f"{shares[name][r]:>15.2f}" for r in REGIONS))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"source": self.source, "model_version": self.model_version, "patch": self.patch,
                "stride": self.stride, "ms_per_face": self.ms_per_face, "accuracy": self.accuracy,
                "counts": dict(zip(self.class_names, self.counts)),
                "peak": {n: float(m.max()) for n, m in zip(self.class_names, self.mean_maps)},
                "mirror_symmetry": self.mirror_symmetry(), "region_shares": self.region_shares()}


def region_masks(size: int) -> dict[str, np.ndarray]:
    """Boolean [size, size] masks: the border ring, then the bands of the interior (disjoint, covering all)."""
    ring = max(int(round(BORDER * size)), 1)
    inner = np.zeros((size, size), bool)
    inner[ring:size - ring, ring:size - ring] = True
    masks = {"border": ~inner}
    rows = np.arange(size)[:, None] + 0.5
    for name, top, bottom in BANDS:
        masks[name] = inner & (rows >= top * size) & (rows < bottom * size)
    return masks


def per_class_sample(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices (in their original order) of at most ``per_class`` seeded random items of each label."""
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep))


def class_saliency(explainer: SaliencyExplainer, images: np.ndarray, labels: np.ndarray, source: str,
                   batch: int = 64) -> ClassSaliency:
    """Mean maps per class over gray face crops [N, S, S] with their labels (indices into the model's classes)."""
    names = explainer.class_names
    images, labels = np.asarray(images), np.asarray(labels, np.int64)
    if len(images) == 0:
        raise ValueError("no faces to average")
    size = explainer.classifier.info.input_size
    sums = np.zeros((len(names), size, size), np.float64)
    faces = np.zeros((len(names), size, size), np.float64)
    counts = np.bincount(labels, minlength=len(names))
    correct = 0
    start = time.perf_counter()
    for first in range(0, len(images), batch):
        chunk, chunk_labels = images[first:first + batch], labels[first:first + batch]
        for face, label in zip(explainer.explain_crops(chunk, targets=chunk_labels), chunk_labels):
            sums[label] += face.saliency
            faces[label] += face.crop
            correct += face.predicted == names[label]
    seconds = time.perf_counter() - start
    divisor = np.maximum(counts, 1)[:, None, None]
    occlusion = explainer.options.occlusion
    return ClassSaliency(class_names=names, counts=tuple(int(c) for c in counts),
                         mean_maps=(sums / divisor).astype(np.float32), mean_faces=(faces / divisor).astype(np.float32),
                         accuracy=correct / len(images), ms_per_face=1000.0 * seconds / len(images), source=source,
                         model_version=explainer.classifier.info.version, patch=occlusion.patch, stride=occlusion.stride)


def class_grid_image(result: ClassSaliency, scale: int = 3) -> np.ndarray:
    """BGR uint8: one column per class; the class's mean face above it with its mean map overlaid
    (each map scaled to its own peak, which is printed below)."""
    import cv2

    from ._overlay import heat_overlay

    size = result.mean_maps.shape[-1]
    tile, pad, head, foot = size * scale, 8, 22, 38
    n = len(result.class_names)
    image = np.full((head + 2 * tile + pad + foot, pad + n * (tile + pad), 3), 255, np.uint8)
    for i, name in enumerate(result.class_names):
        x = pad + i * (tile + pad)
        face = result.mean_faces[i].round().clip(0, 255).astype(np.uint8)
        plain = cv2.resize(face, (tile, tile), interpolation=cv2.INTER_CUBIC)
        image[head:head + tile, x:x + tile] = cv2.cvtColor(plain, cv2.COLOR_GRAY2BGR)
        image[head + tile + pad:head + 2 * tile + pad, x:x + tile] = heat_overlay(face, result.mean_maps[i], scale)
        cv2.putText(image, f"{name} {result.counts[i]}", (x, 15), 0, 0.4, (30, 30, 30), 1, cv2.LINE_AA)
        cv2.putText(image, f"peak {float(result.mean_maps[i].max()):.3f}", (x, head + 2 * tile + pad + 14), 0, 0.36,
                    (110, 110, 110), 1, cv2.LINE_AA)
    caption = (f"model {result.model_version}: mean drop of p(true class) when an {result.patch}-px patch is hidden "
               f"(stride {result.stride}); {sum(result.counts)} faces")
    cv2.putText(image, caption, (pad, image.shape[0] - 8), 0, 0.36, (30, 30, 30), 1, cv2.LINE_AA)
    return image
