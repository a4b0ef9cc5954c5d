"""Exception tree of fleetwise.

::

    FleetwiseError
    ├── InputError            bad input from the user (config, trace, CLI, API body)
    │   ├── TraceFormatError  a trace file that is not one integer per line
    │   ├── UnknownNameError  an algorithm, policy or day name that is not registered
    │   ├── ParameterError    a parameter that is missing, unknown or out of range
    │   ├── NotFoundError     a host, VM, plan, action… that is not stored
    │   └── ConflictError     the stored state is not the one the caller expected
    └── DriverError           a peer or driver failed (hypervisor, power, database)

Expected outcomes (no host fits, nothing to do) are return values, never exceptions.
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "DriverError",
    "FleetwiseError",
    "InputError",
    "NotFoundError",
    "ParameterError",
    "TraceFormatError",
    "UnknownNameError",
]


class FleetwiseError(Exception):
    """Base class of every error fleetwise raises on purpose."""


class InputError(FleetwiseError):
    """The caller gave something invalid; nothing was changed."""


class TraceFormatError(InputError):
    """A workload trace file is malformed."""


class UnknownNameError(InputError):
    """A name (algorithm, policy, day) is not known."""


class ParameterError(InputError):
    """A parameter is missing, unknown or out of its range."""


class DriverError(FleetwiseError):
    """A driver or remote peer failed while carrying out a request."""


class NotFoundError(InputError):
    """A host, VM, plan, action, migration or request that is not stored."""


class ConflictError(InputError):
    """The stored state is not the one the caller expected (it changed meanwhile)."""
