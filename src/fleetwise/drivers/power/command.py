"""Commands run on behalf of a host (e.g. ``ssh {host} systemctl suspend``), with a timeout."""

from __future__ import annotations

import contextlib
import math
import os
import shlex
import signal
import subprocess
from dataclasses import dataclass

from fleetwise.errors import DriverError, ParameterError
from fleetwise.ids import check_host_name

__all__ = [
    "DEFAULT_SLEEP_COMMAND",
    "DEFAULT_STATUS_COMMAND",
    "CommandResult",
    "CommandTemplate",
]

DEFAULT_SLEEP_COMMAND = "ssh -o BatchMode=yes -o ConnectTimeout=10 {host} systemctl suspend"
DEFAULT_STATUS_COMMAND = "ssh -o BatchMode=yes -o ConnectTimeout=5 {host} true"

_OUTPUT_TAIL = 500


@dataclass(frozen=True)
class CommandResult:
    """Exit status and output of a finished command."""

    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class CommandTemplate:
    """An argument vector whose items may contain ``{host}``; run without a shell.

    The host name is validated and substituted into single arguments, so it can
    neither add arguments nor be read as an option.
    """

    argv: tuple[str, ...]
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.argv:
            raise ParameterError("a command template must not be empty")
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise ParameterError(f"timeout_s must be positive, got {self.timeout_s}")
        for arg in self.argv:
            try:
                arg.format(host="h")
            except (KeyError, IndexError, ValueError) as exc:
                raise ParameterError(
                    f"command argument {arg!r} may only use the placeholder {{host}}"
                ) from exc

    @classmethod
    def parse(cls, template: str, timeout_s: float = 30.0) -> CommandTemplate:
        """Split a command line the way a POSIX shell would (quotes respected)."""
        try:
            argv = tuple(shlex.split(template))
        except ValueError as exc:
            raise ParameterError(f"cannot parse command {template!r}: {exc}") from exc
        return cls(argv, timeout_s)

    def render(self, host: str) -> list[str]:
        """The argument vector for ``host``."""
        check_host_name(host)
        return [arg.format(host=host) for arg in self.argv]

    def run(self, host: str) -> CommandResult:
        """Run the command for ``host``; raise DriverError if it cannot start or times out.

        On timeout the whole process group the command started is killed.
        """
        argv = self.render(host)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise DriverError(f"cannot run {argv[0]!r} for {host}: {exc}") from exc
        try:
            stdout, stderr = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise DriverError(
                f"{shlex.join(argv)} did not finish within {self.timeout_s:g} s"
            ) from exc
        return CommandResult(proc.returncode, stdout, stderr)

    def run_checked(self, host: str) -> CommandResult:
        """Like :meth:`run`, but a non-zero exit status raises DriverError too."""
        result = self.run(host)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()[-_OUTPUT_TAIL:]
            raise DriverError(
                f"{shlex.join(self.render(host))} exited with status {result.returncode}"
                + (f": {detail}" if detail else "")
            )
        return result
