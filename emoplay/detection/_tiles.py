"""``DetectorOptions(tiles=...)``: the full-range model on overlapping tiles of a large frame, for small faces.

The full-range model sees the whole frame on its 192x192 input, so a 50 px face in a 1280x720 frame
becomes 7 px there, too small to be found (it finds most faces from about 8-10 % of the frame's
longer side up). Run on a tile, the same face is a larger share of what the model sees.

* **Overlap.** Neighbouring tiles overlap by ``WHOLE_FRAME_FROM`` of the frame's longer side (154 px
  at 1280x720; at most ``MAX_OVERLAP_PX``): a face smaller than that lies wholly inside some tile, and
  a larger one is found on the whole frame. Tiles all have one size and are spread evenly from edge to
  edge.
* **Grid.** ``tiles="auto"`` picks the fewest columns and rows that make a face of ``SMALL_FACE_PX``
  at least ``FACE_SHARE`` of a tile's longer side (tiles of at most 500 px): 4x2 tiles of 436x437 for
  1280x720, 2x1 of 479x480 for 854x480 and of 359x360 for 640x360; a frame whose longer side is at most
  500 px gets no tiles. ``tiles=(cols, rows)`` gives the grid.
* **Too small for a tile.** A face found on a tile whose height is under ``MIN_TILE_SHARE`` of the
  tile's longer side is dropped: tiles are sized for faces from ``FACE_SHARE`` up, the model finds few
  faces below 8 % and its false ones on a clip without faces were mostly 6-8 % of a tile (every face
  found on the group frames' tiles was 9.8 % or more). Faces found on the whole frame are kept. A face
  found on a tile that is taller than the overlap is dropped too: such a face is the whole frame's, and a
  tile that cuts it can see part of it (the lower half of a 400 px face) as a face of its own.
* **Merge.** The whole frame runs too (for faces too large for a tile); its faces and every tile's, in
  frame coordinates with their keypoints, go through the detector's weighted non-max suppression once
  more, so a face found by several passes (the whole frame, the tiles that overlap where it is, a tile
  that cuts it) becomes one, its box and keypoints the score-weighted mean of theirs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SMALL_FACE_PX = 50  # the face height "auto" sizes tiles for
FACE_SHARE = 0.10  # of a tile's longer side, for such a face (the full-range model finds most faces from here)
MIN_TILE_SHARE = 0.08  # of a tile's longer side: smaller faces found on a tile are dropped (see above)
WHOLE_FRAME_FROM = 0.12  # of the frame's longer side: faces the whole-frame pass finds (tiles overlap by this)
MAX_OVERLAP_PX = 200
MAX_TILES_PER_SIDE = 8
TILE_MODES = ("off", "auto")


def parse_tiles(text: str) -> str | tuple[int, int]:
    """``DetectorOptions.tiles`` from a command line's words: "off", "auto" or COLSxROWS (e.g. "3x2"), any case.
    Raises ValueError saying what to write instead."""
    word = text.strip().lower()
    if word in TILE_MODES:
        return word
    cols, x, rows = word.partition("x")
    if x and cols.isdigit() and rows.isdigit() and all(1 <= int(n) <= MAX_TILES_PER_SIDE for n in (cols, rows)):
        return int(cols), int(rows)
    raise ValueError(f"expected off, auto or COLSxROWS with 1 to {MAX_TILES_PER_SIDE} each (e.g. 3x2), got {text!r}")


def check_tiles(tiles: object, model_range: str) -> None:
    """Raise ValueError/TypeError with what to write instead, unless ``tiles`` is a valid ``DetectorOptions.tiles``."""
    if isinstance(tiles, str):
        if tiles not in TILE_MODES:
            raise ValueError(f"DetectorOptions.tiles must be 'off', 'auto' or (cols, rows), e.g. (3, 2); got "
                             f"{tiles!r}")
    elif isinstance(tiles, tuple) and len(tiles) == 2:
        for name, value in zip(("cols", "rows"), tiles):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TILES_PER_SIDE:
                raise ValueError(f"DetectorOptions.tiles (cols, rows): {name} must be a whole number from 1 to "
                                 f"{MAX_TILES_PER_SIDE}, got {value!r}")
    else:
        raise TypeError(f"DetectorOptions.tiles must be 'off', 'auto' or a tuple (cols, rows), e.g. (3, 2); got "
                        f"{tiles!r}")
    if tiles != "off" and model_range == "short":
        raise ValueError("DetectorOptions.tiles runs the full-range model on tiles: use it with range='full' or "
                         "'auto', or leave tiles='off' with range='short'")


def overlap_px(width: int, height: int) -> int:
    """How far neighbouring tiles of a frame overlap: ``WHOLE_FRAME_FROM`` of its longer side, at most
    ``MAX_OVERLAP_PX``; a smaller face lies wholly inside some tile, a larger one is the whole frame's."""
    return min(math.ceil(WHOLE_FRAME_FROM * max(width, height)), MAX_OVERLAP_PX)


def auto_grid(width: int, height: int) -> tuple[int, int]:
    """The fewest (cols, rows) whose tiles' longer side is at most SMALL_FACE_PX / FACE_SHARE."""
    longest = SMALL_FACE_PX / FACE_SHARE
    overlap = overlap_px(width, height)

    def count(length: int) -> int:
        # n tiles of side t, each overlapping the next by o, cover n * t - (n - 1) * o pixels.
        return max(1, min(math.ceil((length - overlap) / (longest - overlap) - 1e-9), MAX_TILES_PER_SIDE))

    return count(width), count(height)


@dataclass(frozen=True)
class Tile:
    """One tile: the pixels ``frame[top:bottom, left:right]``."""

    left: int
    top: int
    right: int
    bottom: int


def _spans(length: int, count: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) of ``count`` equal spans covering ``length`` pixels, each overlapping the next by ``overlap``
    pixels or a little more."""
    if count == 1:
        return [(0, length)]
    side = min(length, math.ceil((length + (count - 1) * overlap) / count))
    starts = dict.fromkeys(round(i * (length - side) / (count - 1)) for i in range(count))  # a small frame: once each
    return [(start, start + side) for start in starts]


def tile_grid(width: int, height: int, grid: tuple[int, int]) -> list[Tile]:
    """The tiles of a ``width`` x ``height`` frame for ``grid`` (cols, rows), row by row, no two alike; none when
    the only tile would be the whole frame."""
    cols, rows = min(grid[0], width), min(grid[1], height)
    overlap = overlap_px(width, height)
    tiles = [Tile(left, top, right, bottom) for top, bottom in _spans(height, rows, overlap)
             for left, right in _spans(width, cols, overlap)]
    return [] if len(tiles) <= 1 else tiles
