"""Measuring the model: labelled datasets (npz, fer2013.csv, image folders), ``evaluate`` (run by
``emoplay eval``), and per-subject calibration."""
