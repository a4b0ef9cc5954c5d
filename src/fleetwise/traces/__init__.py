"""Workload traces: the bundled PlanetLab days and loaders for trace folders."""

from fleetwise.traces.loader import (
    BUNDLED_DAYS,
    TraceSet,
    bytewise_sorted,
    load_bundled_day,
    load_traces,
    read_trace_folder,
)

__all__ = [
    "BUNDLED_DAYS",
    "TraceSet",
    "bytewise_sorted",
    "load_bundled_day",
    "load_traces",
    "read_trace_folder",
]
