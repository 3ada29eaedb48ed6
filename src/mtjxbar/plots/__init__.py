"""Plots of device curves and experiment results (matplotlib, Agg backend, written to files)."""
