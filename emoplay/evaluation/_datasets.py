"""Readers for labelled face images, in the three layouts FER2013 is found in.

- an ``.npz`` like ``val.npz``: ``images`` uint8 [N, H, W], ``labels`` [N] indexing ``classes``;
- the original ``fer2013.csv``: columns ``emotion,pixels,Usage`` (``Usage`` picks the split;
  a csv without that column, like Kaggle's ``train.csv``, is read whole);
- an image folder ``<class>/<image>`` (png, jpg, jpeg, tif, tiff, gif, bmp, webp) whose class
  folders are named after the FER2013 classes; for ``<split>/<class>/<image>`` point at the split.

Every reader returns :class:`LabeledImages`. Anything unreadable raises :class:`DataError` with a
message that says what to fix. cv2 is imported only when images are decoded.
"""

from __future__ import annotations

import csv
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._errors import DataError
from .._events import EMOTIONS

# The order of FER2013's ``emotion`` column (0 = angry … 6 = neutral), also our EMOTIONS order.
FER2013_CLASSES: tuple[str, ...] = EMOTIONS
FER2013_USAGES = ("Training", "PublicTest", "PrivateTest")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".webp"})
_FER_PIXELS = 48 * 48
_LAYOUTS_HINT = ("pass --data a .npz (images, labels, classes), the original fer2013.csv, or a folder "
                 "of class folders (angry/, happy/ …)")


@dataclass(frozen=True)
class LabeledImages:
    """Images with their class labels.

    ``images`` is a uint8 array [N, H, W] when all images are gray and the same size (npz, csv),
    otherwise a list of uint8 arrays, each HxW gray or HxWx3 BGR (image folders).
    """

    images: np.ndarray | list[np.ndarray]
    labels: np.ndarray  # int64 [N], index into class_names
    class_names: tuple[str, ...]
    source: str  # what was read, for reports: path, layout, split, sampling
    names: tuple[str, ...] = ()  # per-image identifiers (ids, csv line numbers, file names) when known

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        if self.names and len(self.names) != len(self.labels):
            raise ValueError(f"{len(self.names)} names but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)


def load_labeled_images(path: str | Path, usage: str = "PublicTest", limit: int | None = None,
                        seed: int = 0) -> LabeledImages:
    """Read a data set in any supported layout, chosen from ``path``.

    ``usage`` picks the split of a fer2013.csv (ignored by the other layouts). ``limit`` keeps a
    seeded random sample of at most that many images (in their original order), so a short run
    still covers every class; images outside the sample are never decoded.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist; {_LAYOUTS_HINT}")
    if path.is_dir():
        return read_image_folder(path, limit=limit, seed=seed)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return read_npz(path, limit=limit, seed=seed)
    if suffix == ".csv":
        return read_fer_csv(path, usage=usage, limit=limit, seed=seed)
    raise DataError(f"{path}: unknown data layout {suffix or '(no suffix)'!r}; {_LAYOUTS_HINT}")


def _sample(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Indices of a seeded random sample of at most ``limit`` of ``n`` items, in order."""
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _sampled(source: str, n_total: int, n: int, seed: int) -> str:
    return source if n == n_total else f"{source}, random sample of {n} of {n_total} (seed {seed})"


def _names(path: Path, data, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """The 1-d array of texts ``key`` of an npz (class names, image ids), or ``default`` when it has none."""
    if key not in data.files:
        return default
    values = data[key]
    if values.ndim != 1:
        raise DataError(f"{path}: {key} must be a 1-d array of names, got one of shape {values.shape}; "
                        f"write it with numpy.savez(..., {key}=np.array([...]))")
    return tuple(str(v) for v in values)


def read_npz(path: str | Path, limit: int | None = None, seed: int = 0) -> LabeledImages:
    path = Path(path)
    try:
        # np.load(path) leaves its file open when the zip is unreadable, so the file is ours to close
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
            missing = [k for k in ("images", "labels") if k not in data.files]
            if missing:
                raise DataError(f"{path} lacks array(s) {missing}; an evaluation .npz needs images (uint8 "
                                "[N, H, W]), labels ([N] class indices) and classes (class names)")
            images, labels = data["images"], data["labels"]
            classes = _names(path, data, "classes", FER2013_CLASSES)
            ids = _names(path, data, "ids", ())
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:  # not a zip, truncated, pickled
        raise DataError(f"{path} is not a readable .npz ({e}); write it with numpy.savez") from e
    if images.ndim == 4 and images.shape[3] == 1:
        images = images[..., 0]
    if images.dtype != np.uint8 or images.ndim != 3 or 0 in images.shape[1:]:
        raise DataError(f"{path}: images must be uint8 [N, H, W] gray, got {images.dtype} {images.shape}; "
                        "convert with images.astype(np.uint8)")
    if labels.ndim != 1 or len(labels) != len(images) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: labels must be integers [N] with N = {len(images)} images, "
                        f"got {labels.dtype} {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise DataError(f"{path}: labels must be in 0..{len(classes) - 1} (indices into classes {list(classes)}), "
                        f"found {labels.min()}..{labels.max()}")
    if len(images) == 0:
        raise DataError(f"{path} holds no images")
    keep = _sample(len(images), limit, seed)
    return LabeledImages(
        images=np.ascontiguousarray(images[keep]),
        labels=labels[keep].astype(np.int64),
        class_names=classes,
        source=_sampled(f"{path} (npz)", len(images), len(keep), seed),
        names=tuple(ids[i] for i in keep) if len(ids) == len(images) else (),
    )


def read_fer_csv(path: str | Path, usage: str = "PublicTest", limit: int | None = None,
                 seed: int = 0) -> LabeledImages:
    """Read the original fer2013.csv: rows ``emotion,pixels,Usage``, 48x48 pixels as text."""
    path = Path(path)
    if usage not in FER2013_USAGES:
        raise ValueError(f"usage must be one of {FER2013_USAGES}, got {usage!r}")
    rows: list[tuple[int, str, str]] = []  # (line number, emotion, pixels) of the chosen split
    usages_seen: set[str] = set()
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: Excel's "CSV UTF-8" starts with a BOM
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path} is empty; expected fer2013.csv with columns emotion,pixels,Usage")
            columns = {name.strip().lower(): i for i, name in enumerate(header)}
            if "emotion" not in columns or "pixels" not in columns:
                raise DataError(f"{path}: header {header} lacks the columns emotion and pixels; expected "
                                "FER2013's fer2013.csv (emotion,pixels,Usage)")
            e_col, p_col, u_col = columns["emotion"], columns["pixels"], columns.get("usage")
            width = max(e_col, p_col, -1 if u_col is None else u_col) + 1
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) < width:
                    raise DataError(f"{path}, line {line}: {len(row)} fields, expected {len(header)} "
                                    f"({','.join(header)}); the file is cut short or not FER2013's csv")
                if u_col is not None:
                    usages_seen.add(row[u_col].strip())
                    if row[u_col].strip() != usage:
                        continue
                rows.append((line, row[e_col], row[p_col]))
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not a text csv ({e}); expected FER2013's fer2013.csv") from e
    except csv.Error as e:
        raise DataError(f"{path} is not a valid csv ({e})") from e
    except OSError as e:
        raise DataError(f"{path} cannot be read ({e})") from e
    if not rows:
        found = ", ".join(sorted(usages_seen)) or "none"
        raise DataError(f"{path} has no rows with Usage {usage} (found: {found}); pick one with --usage")
    n_total = len(rows)
    keep = _sample(n_total, limit, seed)
    images = np.empty((len(keep), 48, 48), np.uint8)
    labels = np.empty(len(keep), np.int64)
    for out, i in enumerate(keep):
        line, emotion, pixels = rows[i]
        labels[out] = _parse_emotion(path, line, emotion)
        images[out] = _parse_pixels(path, line, pixels)
    split = f"Usage {usage}" if u_col is not None else "no Usage column: all rows"
    return LabeledImages(
        images=images,
        labels=labels,
        class_names=FER2013_CLASSES,
        source=_sampled(f"{path} (fer2013 csv, {split})", n_total, len(keep), seed),
        names=tuple(f"line {rows[i][0]}" for i in keep),
    )


def _parse_emotion(path: Path, line: int, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if not 0 <= value < len(FER2013_CLASSES):
        raise DataError(f"{path}, line {line}: emotion {text!r} is not a class index 0..{len(FER2013_CLASSES) - 1} "
                        f"({' '.join(FER2013_CLASSES)}); fix or delete the row")
    return value


def _parse_pixels(path: Path, line: int, text: str) -> np.ndarray:
    try:
        values = np.array(text.split(), dtype=np.int64)
    except ValueError:
        raise DataError(f"{path}, line {line}: pixels must be space-separated integers 0..255; "
                        "fix or delete the row") from None
    if values.size != _FER_PIXELS:
        raise DataError(f"{path}, line {line}: {values.size} pixels, expected {_FER_PIXELS} (48x48); "
                        "fix or delete the row")
    if values.min() < 0 or values.max() > 255:
        raise DataError(f"{path}, line {line}: pixel values must be 0..255, found {values.min()}..{values.max()}")
    return values.astype(np.uint8).reshape(48, 48)


def read_image_folder(path: str | Path, limit: int | None = None, seed: int = 0) -> LabeledImages:
    """Read ``<class>/<image>`` files below ``path``; class folders match FER2013's names (any case)."""
    path = Path(path)
    known = {name: i for i, name in enumerate(FER2013_CLASSES)}
    folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    class_folders = [p for p in folders if p.name.lower() in known]
    unknown = [p for p in folders if p.name.lower() not in known]
    if not class_folders:
        splits = [p.name for p in folders if any(q.is_dir() and q.name.lower() in known for q in p.iterdir())]
        if splits:
            raise DataError(f"{path} holds split folders ({', '.join(splits)}), not class folders; point --data "
                            f"at one split, e.g. {path / splits[0]}")
        if not unknown:
            raise DataError(f"{path} has no class folders; an image folder needs one folder per class named "
                            f"{', '.join(FER2013_CLASSES)} (holding the images), or {_LAYOUTS_HINT}")
    if unknown:
        raise DataError(f"{path}: unknown class folder(s) {[p.name for p in unknown]}; class folders must be "
                        f"named {', '.join(FER2013_CLASSES)} (rename or move the others away)")
    stray = [p.name for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if stray:
        raise DataError(f"{path}: images outside class folders ({', '.join(sorted(stray)[:3])}…); "
                        "move each image into the folder of its class")
    files: list[tuple[Path, int]] = []
    for folder in class_folders:
        label = known[folder.name.lower()]
        files.extend((f, label) for f in sorted(folder.iterdir())
                     if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{path}: the class folders hold no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    keep = _sample(len(files), limit, seed)
    images = [read_image(files[i][0]) for i in keep]
    return LabeledImages(
        images=images,
        labels=np.array([files[i][1] for i in keep], np.int64),
        class_names=FER2013_CLASSES,
        source=_sampled(f"{path} (image folders)", len(files), len(keep), seed),
        names=tuple(str(files[i][0].relative_to(path)) for i in keep),
    )


def read_image(path: Path) -> np.ndarray:
    """One image file as uint8 HxW gray or HxWx3 BGR (8 bits; alpha dropped)."""
    import cv2

    from .._media_files import printable_name, read_image_file

    image = read_image_file(path, cv2.IMREAD_ANYCOLOR, DataError)  # any file name; size checked before decoding
    if image is None and path.suffix.lower() == ".gif":
        image = _read_gif_with_pillow(path)  # OpenCV builds without the GIF decoder
    if image is None or image.size == 0:
        raise DataError(f"{printable_name(path)} is not a readable image; delete it or convert it to png")
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return np.ascontiguousarray(image)


def _read_gif_with_pillow(path: Path) -> np.ndarray | None:
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(path) as im:
            im.seek(0)
            if im.mode in ("L", "LA") or (im.mode == "P" and _palette_is_gray(im)):
                return np.asarray(im.convert("L"))
            return np.asarray(im.convert("RGB"))[:, :, ::-1].copy()
    except (OSError, ValueError):
        return None


def _palette_is_gray(im) -> bool:
    rgb = np.asarray(im.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())
