"""The identifiers of VMs (UUIDs) and hosts (names), and how they are validated."""

from __future__ import annotations

import re
import uuid as uuid_module

from fleetwise.errors import ParameterError

__all__ = ["HOST_NAME_PATTERN", "VM_UUID_PATTERN", "check_host_name", "check_vm_uuid"]

#: DNS names, IPv4 and IPv6 literals; never starting with "-" so that a host name
#: cannot be read as an option by a command it is passed to.
HOST_NAME_PATTERN = r"^[A-Za-z0-9_.:\[\]%][A-Za-z0-9_.:\[\]%-]{0,252}$"

#: A UUID in its 36-character hyphenated form or as 32 hex digits.
VM_UUID_PATTERN = (
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32})$"
)

_HOST_NAME = re.compile(HOST_NAME_PATTERN)
_VM_UUID = re.compile(VM_UUID_PATTERN)


def check_vm_uuid(value: str) -> str:
    """Return the UUID in canonical lower-case hyphenated form, or raise ParameterError."""
    if not isinstance(value, str) or not _VM_UUID.fullmatch(value):
        raise ParameterError(f"not a VM UUID: {value!r}")
    return str(uuid_module.UUID(value))


def check_host_name(value: str) -> str:
    """Return the host name unchanged if it is a plain name or address, else raise."""
    if not isinstance(value, str) or not _HOST_NAME.fullmatch(value):
        raise ParameterError(f"not a valid host name: {value!r}")
    return value
