"""Every host's VM list as linked lists over flat arrays, usable from compiled code.

CloudSim iterates a host's VMs in arrival order, so the lists keep that order. A
list holds *nodes*, each standing for one VM (``vm[node]``); a node is in at most one
list, so appending and unlinking are O(1). In a run's lists, node ``v < vms`` is VM
``v`` hosted (or migrating *out*) and nodes from ``vms`` on are VMs migrating *in*
(a VM can be on its way to two hosts at once).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["HostLists", "append", "entries", "new_host_lists", "unlink"]

IntArray = npt.NDArray[np.int64]


class HostLists(NamedTuple):
    """Linked lists of nodes per host; -1 marks an end or an unlisted node."""

    head: IntArray  # first node of each host
    tail: IntArray  # last node of each host
    nxt: IntArray  # next node in the same list
    prv: IntArray  # previous node in the same list
    owner: IntArray  # host whose list holds the node
    vm: IntArray  # VM the node stands for


@njit(cache=True)
def new_host_lists(hosts: int, nodes: int) -> HostLists:
    """Empty lists for ``hosts`` hosts with ``nodes`` nodes standing for no VM yet."""
    return HostLists(
        np.full(hosts, -1, dtype=np.int64), np.full(hosts, -1, dtype=np.int64),
        np.full(nodes, -1, dtype=np.int64), np.full(nodes, -1, dtype=np.int64),
        np.full(nodes, -1, dtype=np.int64), np.full(nodes, -1, dtype=np.int64),
    )  # fmt: skip


@njit(cache=True)
def append(lists: HostLists, host: int, node: int) -> None:
    """Put ``node`` (not listed anywhere) at the end of ``host``'s list."""
    last = lists.tail[host]
    lists.prv[node] = last
    lists.nxt[node] = -1
    if last >= 0:
        lists.nxt[last] = node
    else:
        lists.head[host] = node
    lists.tail[host] = node
    lists.owner[node] = host


@njit(cache=True)
def unlink(lists: HostLists, node: int) -> None:
    """Take ``node`` out of the list holding it."""
    host = lists.owner[node]
    if host < 0:
        raise ValueError("the node is in no list")
    before = lists.prv[node]
    after = lists.nxt[node]
    if before >= 0:
        lists.nxt[before] = after
    else:
        lists.head[host] = after
    if after >= 0:
        lists.prv[after] = before
    else:
        lists.tail[host] = before
    lists.prv[node] = -1
    lists.nxt[node] = -1
    lists.owner[node] = -1


def entries(lists: HostLists, hosted_nodes: int) -> list[list[int]]:
    """Each host's list as Python ints: ``v`` hosted, ``-v - 1`` migrating in.

    Nodes below ``hosted_nodes`` are hosted VMs, the others VMs migrating in.
    """
    out: list[list[int]] = []
    for h in range(lists.head.size):
        row: list[int] = []
        node = int(lists.head[h])
        while node >= 0:
            v = int(lists.vm[node])
            row.append(v if node < hosted_nodes else -v - 1)
            node = int(lists.nxt[node])
        out.append(row)
    return out
