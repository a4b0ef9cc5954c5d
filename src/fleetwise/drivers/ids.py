"""Validation of the identifiers drivers receive: VM UUIDs and host names."""

from __future__ import annotations

import re
import uuid as uuid_module

from fleetwise.errors import ParameterError

__all__ = ["check_host_name", "check_vm_uuid"]

# DNS names, IPv4 and IPv6 literals; never starting with "-" so that a host name
# cannot be read as an option by a command it is passed to.
_HOST_NAME = re.compile(r"[A-Za-z0-9_.:\[\]%][A-Za-z0-9_.:\[\]%-]{0,252}")


def check_vm_uuid(value: str) -> str:
    """Return the UUID in canonical lower-case form, or raise ParameterError."""
    try:
        return str(uuid_module.UUID(value))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ParameterError(f"not a VM UUID: {value!r}") from exc


def check_host_name(value: str) -> str:
    """Return the host name unchanged if it is a plain name or address, else raise."""
    if not isinstance(value, str) or not _HOST_NAME.fullmatch(value):
        raise ParameterError(f"not a valid host name: {value!r}")
    return value
