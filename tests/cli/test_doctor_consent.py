"""`emoplay doctor` opens no camera unless asked with --probe-cameras."""

from __future__ import annotations

import json

import cv2
import pytest

from emoplay.cli import main


class RecordingCapture:
    """Stands in for cv2.VideoCapture: records which devices were opened, has no camera behind it."""

    opened: list = []

    def __init__(self, device) -> None:
        RecordingCapture.opened.append(device)

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return False

    def release(self) -> None:
        pass


@pytest.mark.slow
def test_doctor_opens_no_camera_without_probe_cameras(monkeypatch, capsys):
    RecordingCapture.opened = []
    monkeypatch.setattr(cv2, "VideoCapture", RecordingCapture)
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert RecordingCapture.opened == []
    assert report["cameras_probed"] is False and report["cameras"] is None
    assert main(["doctor"]) == 0
    assert "--probe-cameras" in capsys.readouterr().out and RecordingCapture.opened == []


@pytest.mark.slow
def test_doctor_probes_cameras_only_when_asked(monkeypatch, capsys):
    RecordingCapture.opened = []
    monkeypatch.setattr(cv2, "VideoCapture", RecordingCapture)
    assert main(["doctor", "--json", "--probe-cameras", "--max-cameras", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert RecordingCapture.opened == [0, 1, 2]
    assert report["cameras_probed"] is True and report["cameras"] == []
