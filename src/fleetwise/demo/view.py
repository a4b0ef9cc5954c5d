"""Rendering the demo's fleet status: a live Rich panel, or plain lines for logs and pipes."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from fleetwise.demo.observe import FleetStatus

__all__ = ["clock_text", "render", "status_line", "summary_lines"]

_POWER_STYLE = {
    "active": ("awake", "bold green"),
    "asleep": ("asleep", "blue"),
    "waking": ("waking", "bold yellow"),
    "going_to_sleep": ("to sleep", "yellow"),
    "starting": ("starting", "dim"),
}


def clock_text(seconds: float) -> str:
    """``[d ]hh:mm`` of a span of seconds."""
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    text = f"{minutes // 60:02d}:{minutes % 60:02d}"
    return f"{days}d {text}" if days else text


def _power(state: str, maintenance: bool) -> Text:
    label, style = _POWER_STYLE.get(state, (state, "red"))
    text = Text(label, style=style)
    if maintenance:
        text.append(" (maint.)", style="magenta")
    return text


def _plans_text(plans: dict[str, int]) -> str:
    if not plans:
        return "none yet"
    parts = [f"{count} {state}" for state, count in sorted(plans.items())]
    return f"{sum(plans.values())} (" + ", ".join(parts) + ")"


def _energy_text(status: FleetStatus) -> str:
    energy = status.energy
    if energy is None:
        return "n/a"
    return (
        f"{energy.kwh:.2f} kWh vs {energy.all_awake_kwh:.2f} kWh all awake "
        f"({100 * energy.saving:.0f}% saved)"
    )


def render(status: FleetStatus, *, elapsed_s: float, duration_s: float, speedup: float) -> Group:
    """The live view: a header with the fleet's figures above one row per host."""
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    header.add_row(
        "time",
        f"simulated {clock_text(status.sim_s)} ({speedup:g}× real time), "
        f"real {elapsed_s:.0f} / {duration_s:.0f} s",
    )
    awake = status.hosts_in("active", "waking", "going_to_sleep")
    header.add_row(
        "hosts",
        f"{awake} awake, {status.hosts_in('asleep')} asleep of {len(status.hosts)}; "
        f"{status.vms} VMs",
    )
    header.add_row("migrations", str(status.migrations))
    header.add_row("plans", _plans_text(status.plans))
    header.add_row("energy", _energy_text(status))
    if not status.controller_ok:
        header.add_row("controller", Text("not answering", style="bold red"))
    table = Table(expand=False)
    table.add_column("host")
    table.add_column("power")
    table.add_column("VMs", justify="right")
    table.add_column("CPU", justify="right")
    table.add_column("", min_width=22)
    for row in status.hosts:
        cpu = "" if row.cpu_pct is None else f"{row.cpu_pct:.0f}%"
        bar: RenderableType = Text("")
        if row.cpu_pct is not None:
            style = "red" if row.cpu_pct > 80 else "yellow" if row.cpu_pct > 50 else "green"
            bar = ProgressBar(
                total=100.0, completed=min(100.0, row.cpu_pct), width=22, complete_style=style
            )
        table.add_row(row.name, _power(row.power, row.maintenance), str(row.vms), cpu, bar)
    title = "fleetwise demo: a simulated fleet consolidating live (Ctrl-C stops it)"
    return Group(Panel(header, title=title, title_align="left"), table)


def status_line(status: FleetStatus, *, elapsed_s: float) -> str:
    """One plain line of the fleet's state (for output that is not a terminal)."""
    hosts = " ".join(
        f"{h.name}:{_POWER_STYLE.get(h.power, (h.power, ''))[0].replace(' ', '-')}/{h.vms}vm"
        + ("" if h.cpu_pct is None else f"/{h.cpu_pct:.0f}%")
        for h in status.hosts
    )
    return (
        f"t={elapsed_s:.0f}s sim={clock_text(status.sim_s)} "
        f"awake={status.hosts_in('active', 'waking', 'going_to_sleep')} "
        f"asleep={status.hosts_in('asleep')} vms={status.vms} "
        f"migrations={status.migrations} plans={sum(status.plans.values())} | {hosts}"
    )


def summary_lines(status: FleetStatus, *, elapsed_s: float) -> list[str]:
    """The closing summary."""
    return [
        f"ran {elapsed_s:.0f} s of real time = {clock_text(status.sim_s)} of simulated time",
        f"hosts at the end: {status.hosts_in('active', 'waking', 'going_to_sleep')} awake, "
        f"{status.hosts_in('asleep')} asleep of {len(status.hosts)}; {status.vms} VMs",
        f"migrations: {status.migrations}",
        f"plans: {_plans_text(status.plans)}",
        f"energy (simulated time): {_energy_text(status)}",
    ]
