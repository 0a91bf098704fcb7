"""The study's calibration step, wired to the sensor's calibration API where this emoplay has one.

The calibration itself belongs to ``emoplay.calibration``: ``sensor.calibrate(seconds=...)``
starts it and the sensor reports the result as an event (``CalibrationFinished``, or a failure event).
This module is the only place the study runner touches it, so the step works the same either way: the
participant relaxes for the study's ``calibration_seconds`` while their probabilities are recorded as the
``_baseline`` stimulus, and the log's ``CalibrationStep`` record says what happened — ``done``,
``failed`` (with the reason) or ``unavailable`` (this emoplay's sensor has no calibration API).
"""

from __future__ import annotations

UNAVAILABLE = ("unavailable", "this emoplay's Sensor has no calibrate(); the baseline frames were recorded, "
                              "nothing was calibrated")


def start_calibration(sensor, seconds: float) -> bool:
    """Ask the sensor to calibrate on the next ``seconds`` of the face; False when it cannot."""
    calibrate = getattr(sensor, "calibrate", None)
    if calibrate is None:
        return False
    calibrate(seconds=seconds)
    return True


def calibration_outcome(events: list) -> tuple[str, str] | None:
    """(outcome, detail) if one of ``events`` ends the calibration, else None."""
    for event in events:
        name = type(event).__name__
        if name == "CalibrationFinished":
            return "done", ""
        if name.startswith("Calibration") and name.endswith("Failed"):
            reason, message = getattr(event, "reason", ""), getattr(event, "message", "")
            return "failed", (f"{reason}: {message}" if reason and message else str(reason or message))[:200]
    return None
