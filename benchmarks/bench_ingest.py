"""Sample ingestion over loopback HTTP: samples/s and request latency.

    .venv/bin/python benchmarks/bench_ingest.py
    .venv/bin/python benchmarks/bench_ingest.py --hosts 40 --vms 25 --batches 50 --clients 4

Starts ``fleetwise controller`` (uvicorn, SQLite in a temporary directory) in a
subprocess on a free loopback port, registers the hosts with their VMs, then posts
one sample batch per host and interval from ``--clients`` client threads (one
keep-alive connection each). Target on a 2-core machine: at least 2,000 samples/s
with a p99 latency under 100 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from fleetwise.controller.tokens import hash_token

ADMIN_TOKEN = "bench-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def controller(state: Path, port: int) -> Iterator[str]:
    """A controller subprocess; yields its base URL and stops it with SIGTERM."""
    config = state / "controller.yaml"
    config.write_text(
        f"state_dir: {state}\n"
        f"listen: {{host: 127.0.0.1, port: {port}}}\n"
        f"admin_token_hash: '{hash_token(ADMIN_TOKEN)}'\n",
        encoding="utf-8",
    )
    log = (state / "controller.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "fleetwise", "controller", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"controller exited early; see {state / 'controller.log'}")
            try:
                headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
                if httpx.get(f"{base}/v1/health", headers=headers, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("controller did not answer within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def vm_ids(host: int, vms: int) -> list[str]:
    return [str(uuid.UUID(int=host * 100_000 + n)) for n in range(vms)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--vms", type=int, default=50, help="VMs per host (samples per batch)")
    parser.add_argument("--batches", type=int, default=40, help="intervals posted per host")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, controller(Path(tmp), free_port()) as base:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for h in range(args.hosts):
                body = {
                    "cpu_cores": 32,
                    "core_mhz": 2400.0,
                    "ram_mb": 262_144,
                    "hypervisor_uri": f"qemu+tcp://bench{h}/system",
                    "vms": [{"uuid": u, "vcpus": 1, "ram_mb": 1024} for u in vm_ids(h, args.vms)],
                }
                client.put(f"/v1/agents/bench{h}", json=body).raise_for_status()

        start = datetime.now(UTC) - timedelta(seconds=args.batches * 300 + 600)
        jobs = [(h, b) for b in range(args.batches) for h in range(args.hosts)]
        latencies: list[float] = []
        lock = threading.Lock()
        errors: list[str] = []

        def work(part: list[tuple[int, int]]) -> None:
            mine: list[float] = []
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                for h, b in part:
                    body = {
                        "taken_at": (start + timedelta(seconds=300 * b)).isoformat(),
                        "host_cpu_mhz": 20_000.0,
                        "hypervisor_mhz": 500.0,
                        "vms": [
                            {"uuid": u, "cpu_mhz": 100.0 + n}
                            for n, u in enumerate(vm_ids(h, args.vms))
                        ],
                    }
                    sent = time.perf_counter()
                    response = client.post(f"/v1/agents/bench{h}/samples", json=body)
                    mine.append(time.perf_counter() - sent)
                    if response.status_code != 200 or response.json()["stored"] != args.vms:
                        errors.append(f"{response.status_code} {response.text[:200]}")
            with lock:
                latencies.extend(mine)

        threads = [
            threading.Thread(target=work, args=(jobs[i :: args.clients],))
            for i in range(args.clients)
        ]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began

    if errors:
        raise SystemExit(f"{len(errors)} failed requests, e.g. {errors[0]}")
    samples = len(jobs) * args.vms
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{len(jobs)} batches of {args.vms} samples from {args.clients} clients "
        f"on {os.cpu_count()} cores in {elapsed:.2f} s"
    )
    print(f"throughput: {samples / elapsed:,.0f} samples/s ({len(jobs) / elapsed:,.0f} requests/s)")
    print(f"latency: p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
