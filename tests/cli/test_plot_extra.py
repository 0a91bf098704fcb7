"""matplotlib is the optional ``plot`` extra: without it, the commands that draw say how to get it.

The absence is real for the import system: ``None`` in ``sys.modules`` makes ``import matplotlib``
raise ImportError, exactly as on an install without the extra.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from emoplay import MissingExtraError
from emoplay.cli import main
from emoplay.sessionlog import LogKey, SessionLogWriter

ADVICE = "pip install 'emoplay[plot]'"


@pytest.fixture
def without_matplotlib(monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends", "matplotlib.backends.backend_agg",
                 "matplotlib.cbook"):
        monkeypatch.setitem(sys.modules, name, None)


def test_log_plot_without_matplotlib_names_the_extra(tmp_path, capsys, without_matplotlib):
    (tmp_path / "k.key").write_bytes(bytes(32))
    with SessionLogWriter(tmp_path / "s.emolog", LogKey.from_bytes(bytes(32))):
        pass
    png = tmp_path / "s.png"
    code = main(["log", "plot", str(tmp_path / "s.emolog"), "--key-file", str(tmp_path / "k.key"), "--out", str(png)])
    assert code != 0
    assert ADVICE in capsys.readouterr().err
    assert not png.exists()


def test_eval_plot_without_matplotlib_fails_before_evaluating(tmp_path, capsys, without_matplotlib):
    data = tmp_path / "faces.npz"
    np.savez(data, images=np.zeros((2, 48, 48), np.uint8), labels=np.array([0, 3]))
    code = main(["eval", "--data", str(data), "--plot", str(tmp_path / "cm.png")])
    out = capsys.readouterr()
    assert code == 2
    assert ADVICE in out.err and "accuracy" not in out.out
    assert not (tmp_path / "cm.png").exists()


def test_bench_without_shared_data_or_matplotlib_says_what_to_install(monkeypatch, without_matplotlib):
    from emoplay.cli.bench import measurements

    bench = measurements()
    monkeypatch.setattr(bench, "shared_video", lambda *args: None)
    with pytest.raises(MissingExtraError, match=r"emoplay\[plot\]"):
        bench.bench_frames()
