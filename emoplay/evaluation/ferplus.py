"""FER+ crowd votes (Barsoum et al. 2016) for FER2013 images, in emoplay's seven classes.

The FER+ crowd relabelled each FER2013 image with ten annotators. A votes CSV has the columns
``id`` (the FER2013 id used in the ``.npz`` files, e.g. ``PublicTest_10014592``) and the vote
counts ``neutral happiness surprise sadness anger disgust fear contempt unknown NF``.

emoplay keeps its seven classes. What happens to the other three columns:

- **contempt** votes are dropped: emoplay has no contempt class, and a face most annotators call
  contemptuous has no right answer among the seven, so such faces are left out of the majority
  labels (``majority`` is ``-1``) and their remaining votes alone form the soft target;
- **unknown** and **NF** (not a face) votes are dropped the same way; a face whose top vote is
  ``unknown`` or ``NF`` has no majority label;
- a face whose top vote is tied between two columns has no majority label either.

``majority`` is therefore the seven-class label of every face with one clear top vote among all ten
columns that is one of emoplay's classes (3,370 of the 3,579 paired PublicTest faces). ``soft`` is
the distribution of the seven-class votes (rows sum to 1; a face with no seven-class vote is all
zeros and ``has_votes`` is False for it).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._errors import DataError
from .._events import EMOTIONS

# FER+ column -> emoplay class name; the other vote columns are dropped (see the module docstring).
FERPLUS_TO_EMOPLAY = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy",
                      "sadness": "sad", "surprise": "surprise", "neutral": "neutral"}
FERPLUS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                   "unknown", "NF")


@dataclass(frozen=True)
class CrowdVotes:
    """Votes for a list of images, in the order of ``ids``, over ``class_names``."""

    ids: tuple[str, ...]
    votes: np.ndarray  # float32 [N, 7]: seven-class vote counts
    all_votes: np.ndarray  # int32 [N, 10]: every FER+ column, in FERPLUS_COLUMNS order
    class_names: tuple[str, ...] = EMOTIONS

    @property
    def soft(self) -> np.ndarray:
        """The seven-class vote distribution (rows of zeros for faces without a seven-class vote)."""
        total = self.votes.sum(1, keepdims=True)
        return np.divide(self.votes, total, out=np.zeros_like(self.votes), where=total > 0)

    @property
    def has_votes(self) -> np.ndarray:
        return self.votes.sum(1) > 0

    @property
    def majority(self) -> np.ndarray:
        """int64 [N]: the seven-class majority label, -1 where the face has none (see the module docstring)."""
        top = self.all_votes.max(1, keepdims=True)
        unique = (self.all_votes == top).sum(1) == 1
        column = self.all_votes.argmax(1)
        names = [FERPLUS_COLUMNS[c] for c in column]
        labels = np.array([self.class_names.index(FERPLUS_TO_EMOPLAY[n]) if n in FERPLUS_TO_EMOPLAY else -1
                           for n in names], dtype=np.int64)
        labels[~unique] = -1
        return labels

    def __len__(self) -> int:
        return len(self.ids)


def read_ferplus_votes(path: str | Path, ids: tuple[str, ...] | list[str] | np.ndarray,
                       class_names: tuple[str, ...] = EMOTIONS) -> CrowdVotes:
    """The votes for ``ids`` (e.g. an ``.npz``'s ``ids``), in that order.

    An id the CSV does not hold (FER+ dropped some images) gets no votes: ``has_votes`` False and no
    majority label. Raises :class:`DataError` if the file is missing, lacks a column, or pairs with
    none of ``ids``.
    """
    path = Path(path)
    if set(class_names) != set(FERPLUS_TO_EMOPLAY.values()):
        raise ValueError(f"class names {class_names} are not the seven FER2013 classes")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in ("id", *FERPLUS_COLUMNS) if c not in (reader.fieldnames or ())]
            if missing:
                raise DataError(f"{path}: not a FER+ votes CSV (no column {', '.join(missing)}); pass the "
                                f"ferplus_votes.csv that pairs FER+ votes with the .npz ids")
            table: dict[str, list[int]] = {}
            for line, row in enumerate(reader, start=2):
                try:
                    table[row["id"]] = [int(row[c]) for c in FERPLUS_COLUMNS]
                except (TypeError, ValueError) as e:
                    raise DataError(f"{path}, line {line}: a vote count is not a whole number ({e})") from None
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; pass the FER+ votes CSV (ferplus_votes.csv)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path} cannot be read as a CSV ({e})") from None
    ids = tuple(str(i) for i in ids)
    all_votes = np.zeros((len(ids), len(FERPLUS_COLUMNS)), dtype=np.int32)
    found = 0
    for i, name in enumerate(ids):
        row = table.get(name)
        if row is not None:
            all_votes[i] = row
            found += 1
    if ids and not found:
        raise DataError(f"{path} holds votes for none of the {len(ids)} images (ids such as {ids[0]!r}); "
                        f"check that the data and the votes come from the same FER2013 split")
    order = [FERPLUS_COLUMNS.index(ferplus) for ferplus, _ in
             sorted(FERPLUS_TO_EMOPLAY.items(), key=lambda kv: class_names.index(kv[1]))]
    return CrowdVotes(ids=ids, votes=all_votes[:, order].astype(np.float32), all_votes=all_votes,
                      class_names=tuple(class_names))


def crowd_majority_set(data, votes_path: str | Path):
    """``data`` (a :class:`~emoplay.evaluation._datasets.LabeledImages` whose names are FER2013 ids, as an
    ``.npz`` with ``ids`` gives) relabelled with the crowd's seven-class majority, keeping only the faces
    that have one; and the kept faces' seven-class vote distributions [n, 7], in ``data.class_names`` order.
    """
    from ._datasets import LabeledImages

    if not data.names:
        raise DataError(f"{data.source} has no image ids to pair with FER+ votes; pass an .npz with 'ids' "
                        f"(val.npz, val_original.npz)")
    if tuple(sorted(data.class_names)) != tuple(sorted(EMOTIONS)):
        raise DataError(f"{data.source}: classes {data.class_names} are not the seven FER2013 classes")
    votes = read_ferplus_votes(votes_path, data.names, tuple(data.class_names))
    keep = np.flatnonzero(votes.majority >= 0)
    images = data.images[keep] if isinstance(data.images, np.ndarray) else [data.images[i] for i in keep]
    relabelled = LabeledImages(images=images, labels=votes.majority[keep], class_names=tuple(data.class_names),
                               source=f"{data.source}, FER+ crowd majority ({len(keep)} of {len(data)} faces "
                                      f"have one)",
                               names=tuple(data.names[i] for i in keep))
    return relabelled, votes.soft[keep]
