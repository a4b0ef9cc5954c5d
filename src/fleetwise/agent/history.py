"""The host's bounded CPU history (per VM and hypervisor, in MHz), kept across restarts."""

from __future__ import annotations

from collections.abc import Collection

from pydantic import BaseModel, ConfigDict, Field

from fleetwise.agent.meter import IntervalUse

__all__ = ["UsageHistory"]


class UsageHistory(BaseModel):
    """Last ``length`` interval values per VM and for the hypervisor, oldest first.

    ``overloaded`` is the host's state at the last collection (for the overload log).
    """

    model_config = ConfigDict(extra="forbid")

    length: int = Field(default=100, ge=1)
    vms: dict[str, list[float]] = Field(default_factory=dict)
    hypervisor: list[float] = Field(default_factory=list)
    overloaded: bool | None = None

    def record(self, use: IntervalUse, present: Collection[str]) -> None:
        """Append one interval; forget VMs no longer ``present`` on the host."""
        for uuid in [u for u in self.vms if u not in present]:
            del self.vms[uuid]
        for uuid, mhz in use.vm_mhz.items():
            if uuid in present:
                self.vms.setdefault(uuid, []).append(mhz)
                del self.vms[uuid][: -self.length]
        self.hypervisor.append(use.hypervisor_mhz)
        del self.hypervisor[: -self.length]

    def resized(self, length: int) -> UsageHistory:
        """The same history kept to at most ``length`` samples per series."""
        return UsageHistory(
            length=length,
            vms={uuid: values[-length:] for uuid, values in self.vms.items()},
            hypervisor=self.hypervisor[-length:],
            overloaded=self.overloaded,
        )
