"""Privacy by construction, checked on the real pipeline: no frame written, no socket, no subprocess."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest

import emoplay
import emoplay.sessionlog

HERE = Path(__file__).resolve().parent


def run_session(video: Path, workdir: Path) -> dict:
    key = workdir / "session.key"
    emoplay.sessionlog.generate_key_file(key)
    before = {p for p in workdir.rglob("*")}
    env = dict(os.environ, HOME=str(workdir), TMPDIR=str(workdir), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, str(HERE / "privacy_session.py"), str(video), str(workdir / "s.emolog"),
                          str(key)], cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    report["new_files"] = sorted(str(p.relative_to(workdir)) for p in set(workdir.rglob("*")) - before)
    return report


@pytest.mark.slow
def test_full_session_writes_nothing_but_its_log_and_opens_no_socket(video, tmp_path):
    report = run_session(video("single_face.mp4"), tmp_path)
    assert report["audited_open"], "the audit hook saw no file opens at all: it was not working"
    assert report["violations"] == []
    assert {"FaceFound", "EmotionChanged", "FaceLost"} <= set(report["kinds"])
    # Only the opted-in log appears on disk (HOME, TMPDIR and the working directory all point here).
    assert report["new_files"] == ["s.emolog"]
    key = emoplay.sessionlog.LogKey.from_file(tmp_path / "session.key")
    log = emoplay.sessionlog.read_session_log(tmp_path / "s.emolog", key)
    assert log.complete and log.records
    raw = (tmp_path / "s.emolog").read_bytes()
    assert b"happy" not in raw and b"neutral" not in raw  # encrypted, not merely encoded


@pytest.mark.slow
def test_frame_buffers_are_not_kept_after_processing(happy_and_neutral_frames):
    with emoplay.Sensor(source="memory") as sensor:
        sensor.start()
        frame = happy_and_neutral_frames["happy"][0].copy()
        ref = weakref.ref(frame)
        sensor.submit(frame, 0.0)
        del frame
        deadline = time.monotonic() + 10
        while sensor.frames_processed < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sensor.frames_processed == 1
        gc.collect()
        assert ref() is None, "the pipeline kept a reference to the frame pixels"
