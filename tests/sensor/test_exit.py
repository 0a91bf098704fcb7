"""Interpreter exit with a sensor that just stopped, was never stopped, or whose camera read is blocked.

stop() returns within 100 ms and leaves a worker that is still inside native code (an ONNX inference, a cv2 read)
to finish by itself. If the script ends right then, the interpreter, unless emoplay waits for the worker at exit
(``emoplay/sensor/_exit.py``), stops that daemon thread when it takes the GIL back, unwinding it through C++
frames: ``terminate called without an active exception`` and exit code 134, about one run in two. Each case here
is a real Python process with the real video, detector and model; every run must exit 0 with nothing from the C++
runtime on stderr, and what the sensor held must be released by the time the interpreter finalises. A few
processes run side by side: the load makes the worker's frame outlast stop()'s wait, which is what triggers the
abort.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import REPO, VIDEOS, require_shared

pytestmark = pytest.mark.slow  # a dozen Python processes, each with the real models

# The host script. An atexit hook registered before emoplay is imported runs after emoplay's own (atexit is
# last in, first out), so it sees what the exit hook left behind and prints it for the test to check.
SCRIPT = textwrap.dedent("""
    import atexit, sys, threading, time
    mode, delay, video = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    held = {}

    def report():
        alive = sorted(t.name for t in threading.enumerate() if t.name.startswith("emoplay"))
        released = {name: check() for name, check in held.items()}
        print(f"EXIT alive={alive} released={released}", flush=True)

    atexit.register(report)

    import cv2
    import emoplay
    from tests.support.fakes import BlockingCamera, BlockingCapture

    if mode in ("stop", "close", "never-stopped", "no-wait"):
        sensor = emoplay.Sensor(source=video)
        sensor.start(wait=mode != "no-wait")
        time.sleep(delay)
        if mode in ("stop", "no-wait"):
            sensor.stop()
        elif mode == "close":
            sensor.close()
    else:  # a camera whose read blocks for 2 s when stop() comes: in the driver, or in the source itself
        cap = cv2.VideoCapture(video)
        ok, frame = cap.read()
        cap.release()
        assert ok, video
        if mode == "blocked-driver":
            capture = BlockingCapture(frame, block_s=2.0, block_from=4)
            source = emoplay.CameraSource(0, opener=lambda device: capture)
            held["device"] = capture.released.is_set
            blocking = capture.blocking
        else:
            camera = BlockingCamera(frame, block_s=2.0, block_from=4)
            source = camera
            held["camera"] = lambda: not camera.is_open
            blocking = camera.blocking
        sensor = emoplay.Sensor(emoplay.SensorOptions(source=source, require_indicator=False))
        sensor.grant_consent()
        sensor.start()
        assert blocking.wait(60), "the camera never blocked"
        time.sleep(delay)
        sensor.stop()
""")

# Processes at a time: enough load that a worker's frame outlasts stop()'s wait, little enough to stay quick.
PARALLEL = 4

CASES = [  # the two blocked cameras first: their 2 s waits overlap the others' work
    ("blocked-driver", 0.05),
    ("blocked-source", 0.05),
    *[("stop", d) for d in (0.0, 0.05, 0.1, 0.3)],
    ("no-wait", 0.0),  # stopped while the worker may still be loading the models
    ("close", 0.1),
    ("never-stopped", 0.2),
]


@pytest.fixture(scope="module")
def exits(tmp_path_factory):
    """Run every case, a few at a time; {case: (exit code, stdout, stderr)}."""
    video = require_shared(VIDEOS / "single_face.mp4")
    script = tmp_path_factory.mktemp("exit") / "host.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))

    def run(case):
        try:
            done = subprocess.run([sys.executable, str(script), case[0], str(case[1]), str(video)], env=env,
                                  capture_output=True, text=True, timeout=120)  # a deadline, not a timing
        except subprocess.TimeoutExpired as hung:
            return None, hung.stdout or "", f"{hung.stderr or ''}\n(still running after 120 s: killed)"
        return done.returncode, done.stdout, done.stderr

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        results = dict(zip(CASES, pool.map(run, CASES)))
    return results


@pytest.mark.parametrize("case", CASES, ids=[f"{mode}-{delay:g}s" for mode, delay in CASES])
def test_the_interpreter_exits_cleanly_after_the_sensor(exits, case):
    code, out, err = exits[case]
    assert "terminate called" not in err and "Fatal Python error" not in err, err
    assert code == 0, f"exit code {code}; stderr:\n{err}"
    report = [line for line in out.splitlines() if line.startswith("EXIT ")]
    assert report, f"the host's own exit hook never ran; stdout:\n{out}\nstderr:\n{err}"
    # No emoplay thread outlives the exit hook, and the camera was released (a blocked read returned first).
    assert "alive=[]" in report[0], report[0]
    assert "False" not in report[0], report[0]
