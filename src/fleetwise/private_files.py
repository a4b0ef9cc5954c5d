"""State kept private: directories 0700, databases and secrets 0600, warnings otherwise.

A fleetwise state directory holds what an attacker on the same machine would want
(the database with every host's address, an agent's token); it is created readable by
its owner only. Existing directories and files are never re-permissioned behind the
operator's back: a looser one gets a warning naming the ``chmod`` to run.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fleetwise.errors import ParameterError

__all__ = ["create_private_file", "ensure_private_dir", "exposure_warning"]


def ensure_private_dir(path: Path, what: str) -> str | None:
    """Create ``path`` as 0700 (its missing parents as ``mkdir -p`` would) if missing;
    a warning if it exists and is looser.

    Raises ParameterError in one line when it cannot be created or is not a directory.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise ParameterError(f"{what} {path} exists and is not a directory") from None
    except OSError as exc:
        raise ParameterError(f"cannot create {what} {path}: {exc.strerror or exc}") from None
    if not path.is_dir():
        raise ParameterError(f"{what} {path} exists and is not a directory")
    return exposure_warning(path, f"{what} {path}", mask=0o077, fix="700")


def create_private_file(path: Path) -> None:
    """Create an empty ``path`` readable by its owner only, unless it exists already."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    except OSError as exc:
        raise ParameterError(f"cannot create {path}: {exc.strerror or exc}") from None


def exposure_warning(path: Path, what: str, *, mask: int = 0o044, fix: str = "600") -> str | None:
    """A one-line warning if others than the owner may read ``path`` (by ``mask``).

    ``what`` describes the path and ends the sentence's subject, as in "the agent's
    token file" or "the config file /etc/x.yaml, which holds a password,".
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if not mode & mask:
        return None
    return f"{what} is readable by others (mode {mode:04o}); restrict it: chmod {fix} {path}"
