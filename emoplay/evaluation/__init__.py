"""Measuring the model: labelled datasets (npz, fer2013.csv, image folders), ``evaluate`` and the ``emoplay eval`` command."""
