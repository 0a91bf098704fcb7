"""Media files OpenCV is given: names that are not UTF-8 (the real CLI, in a subprocess) and image bombs."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.support import VIDEOS, require_shared
from emoplay import DataError, ImageFolderSource, VideoFileSource, VideoReadError
from emoplay._media_files import MAX_IMAGE_PIXELS, image_size, read_image_file

pytestmark = pytest.mark.slow  # subprocesses, real servers or whole studies: seconds each

ODD = b"\xff"  # a byte that never appears in UTF-8


def odd_path(folder: Path, stem: bytes, suffix: bytes) -> Path:
    """A path in ``folder`` whose name is not valid UTF-8 (as Python shows such a name: with a lone surrogate)."""
    return folder / os.fsdecode(stem + ODD + suffix)


def emoplay(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess: a crash inside OpenCV is an exit code here, not a dead test run."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "emoplay.cli", *map(os.fsencode, args)], capture_output=True,
                          timeout=timeout, env=env)


def events(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_watch_reads_a_video_whose_name_is_not_utf8(tmp_path):
    video = odd_path(tmp_path, b"vid", b".mp4")
    video.write_bytes(require_shared(VIDEOS / "single_face.mp4").read_bytes())
    done = emoplay("watch", "--source", video, "--json")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    kinds = [e["event"] for e in events(done.stdout)]
    assert "FaceFound" in kinds and kinds[-1] == "CameraStateChanged"
    assert list(tmp_path.iterdir()) == [video]  # nothing left behind


def test_watch_reads_an_image_folder_with_a_file_name_that_is_not_utf8(tmp_path):
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    cap = cv2.VideoCapture(str(require_shared(VIDEOS / "single_face.mp4")))
    for k in range(10):  # a face is reported once it has been seen on a few frames
        ok, frame = cap.read()
        assert ok
        odd_path(folder, b"face%d" % k, b".png").write_bytes(cv2.imencode(".png", frame)[1].tobytes())
    cap.release()
    done = emoplay("watch", "--source", folder, "--json")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert "FaceFound" in [e["event"] for e in events(done.stdout)]


def test_a_looping_video_whose_name_is_not_utf8_plays_again_from_its_start(tmp_path):
    video = odd_path(tmp_path, b"vid", b".mp4")
    video.write_bytes(require_shared(VIDEOS / "single_face.mp4").read_bytes())
    code = ("import sys\nfrom emoplay import VideoFileSource\n"
            "s = VideoFileSource(sys.argv[1], loop=True)\ns.open()\n"
            "frames = [s.read(1.0) for _ in range(2 * s.frame_count + 5)]\n"
            "print(s.frame_count, frames[-1].index, frames[-1].timestamp > s.frame_count / s.fps)\n")
    done = subprocess.run([sys.executable, "-c", code, os.fsencode(video)], capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    count, index, later = done.stdout.split()
    assert int(index) == 4 and later == b"True"


def test_a_missing_file_with_an_odd_name_is_a_clear_error_naming_it(tmp_path):
    with pytest.raises(VideoReadError, match=r"does not exist"):
        VideoFileSource(odd_path(tmp_path, b"gone", b".mp4")).open()
    with pytest.raises(DataError, match=r"cannot read .*gone\\xff\.png: No such file"):
        read_image_file(odd_path(tmp_path, b"gone", b".png"), 0, DataError)


# -- image bombs ------------------------------------------------------------------------------------------------
def png_of_zeros(path: Path, width: int, height: int) -> Path:
    """A valid 8-bit gray PNG of ``width`` x ``height`` black pixels: tiny on disk, large once decoded."""
    row = b"\x00" * (width + 1)  # filter byte, then the pixels
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """10000 x 10000 pixels (100 megapixels, 100 MB decoded) in a file of about 100 KB."""
    return png_of_zeros(tmp_path_factory.mktemp("bomb") / "bomb.png", 10000, 10000)


def test_explain_refuses_an_image_bomb_in_one_line(bomb):
    done = emoplay("explain", bomb)
    lines = done.stderr.decode().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr.decode()[-2000:]
    assert "10000x10000 pixels" in lines[0] and "scale it down" in lines[0]


def test_explain_refuses_a_png_past_opencvs_own_limit_in_one_line(tmp_path):
    header_only = tmp_path / "huge.png"  # 40000 x 40000: OpenCV itself raises on it; no traceback may show
    header_only.write_bytes(png_of_zeros(tmp_path / "small.png", 4, 4).read_bytes()[:16]
                            + struct.pack(">II", 40000, 40000) + b"\x08\x00\x00\x00\x00" + b"\x00" * 64)
    done = emoplay("explain", header_only)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr.decode()[-2000:]
    assert b"40000x40000 pixels" in done.stderr


def test_an_image_folder_source_refuses_an_image_bomb_naming_it(bomb, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "bomb.png").symlink_to(bomb)
    source = ImageFolderSource(folder)
    source.open()
    with pytest.raises(VideoReadError, match=r"bomb\.png is 10000x10000 pixels, more than the 64 megapixels"):
        source.read(0.1)


def test_an_image_at_the_limit_is_decoded_and_one_pixel_more_is_not(tmp_path):
    side = int(MAX_IMAGE_PIXELS ** 0.5)
    assert read_image_file(png_of_zeros(tmp_path / "limit.png", side, side), 0, DataError).shape == (side, side)
    with pytest.raises(DataError, match=f"{side + 1}x{side} pixels"):
        read_image_file(png_of_zeros(tmp_path / "over.png", side + 1, side), 0, DataError)


@pytest.mark.parametrize("suffix, shape", [(suffix, shape) for suffix in (".png", ".jpg", ".bmp", ".tif", ".webp")
                                           for shape in ((37, 53), (37, 53, 3))]
                         + [(".pgm", (37, 53)), (".ppm", (37, 53, 3))])
def test_the_size_read_from_a_header_is_the_decoded_size(suffix, shape):
    import cv2

    pixels = np.random.default_rng(0).integers(0, 255, shape, np.uint8)
    ok, data = cv2.imencode(suffix, pixels)
    assert ok
    assert image_size(data.tobytes()) == (53, 37)


def test_a_file_whose_size_cannot_be_read_first_is_not_decoded(tmp_path):
    import cv2

    ok, data = cv2.imencode(".png", np.zeros((8, 8), np.uint8))
    odd = tmp_path / "cut.png"
    odd.write_bytes(data.tobytes()[:12])  # the signature without the header
    assert image_size(odd.read_bytes()) is None
    assert read_image_file(odd, 0, DataError) is None
    with pytest.raises(DataError, match="not a regular file"):
        read_image_file(Path("/dev/zero"), 0, DataError)
