"""Trace-driven simulator: the CloudSim-compatible and fleetwise-native models."""
