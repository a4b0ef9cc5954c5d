"""VM selection: which VM to move off an overloaded host.

Every policy is a pure function ``f(vms, ctx, *, params)`` returning the index of
the chosen VM in ``vms`` or ``None`` (see :class:`fleetwise.core.types.VmSelector`).
Build one with ``SELECTION.build(name, params)``.
"""

from fleetwise.core.selection import correlation, simple  # noqa: F401
from fleetwise.core.selection.registry import SELECTION

__all__ = ["SELECTION"]
