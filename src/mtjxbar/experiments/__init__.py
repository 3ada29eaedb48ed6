"""Experiment drivers: data sets, training runs and sweeps."""
