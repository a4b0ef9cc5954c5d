"""MHOD's Markov model of a host: utilisation states and transition estimates.

Utilisation is mapped to states ``0..N`` by ascending thresholds; state ``N`` (at or
above the last threshold) is the overload state. Transition probabilities come from
the Multisize Sliding Window estimator: for each source state ``i`` the states that
followed ``i`` form its request sequence; for every window size ``L`` the estimate of
``p_ij`` after each request is the number of ``j`` among the last ``L`` requests
divided by ``L`` (also while fewer than ``L`` requests exist, so young rows sum to
less than one). A window size is acceptable when the sample variance of its last
``L`` estimates is at most ``p̂(1 − p̂)/L`` (``p̂`` its latest estimate); sizes with
fewer than ``L`` estimates are not. Walking the sizes upwards from the smallest, the
largest size reached before the first unacceptable one is selected (the smallest if
none is acceptable), and ``P̂[i][j]`` is its latest estimate (0 for a state that was
never left).

Every call estimates from the whole history at once with cumulative counts; the
variance test is evaluated exactly in integer arithmetic. Only the ``n − 1`` observed
transitions are used (no transition into the first value is assumed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fleetwise.core.types import FloatArray

__all__ = [
    "IntArray",
    "TransitionEstimate",
    "estimate_transitions",
    "select_windows",
    "utilisation_states",
]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TransitionEstimate:
    """Estimated transition matrix ``probabilities`` (rows: from, columns: to), the
    window size selected for each entry and the number of requests seen per row."""

    probabilities: FloatArray
    window_sizes: IntArray
    requests: IntArray


def utilisation_states(history: FloatArray, thresholds: Sequence[float]) -> IntArray:
    """The state of each value: how many of the ascending ``thresholds`` are ``<=`` it."""
    bounds = np.asarray(thresholds, dtype=np.float64)
    return np.searchsorted(bounds, history, side="right").astype(np.int64)


def _acceptable_prefix(counts: IntArray, sizes: IntArray) -> IntArray:
    """Per target, how many of ``sizes`` (all at most the number of requests) pass the
    variance test before the first one that fails."""
    n_requests = counts.shape[0] - 1
    # in_window[k, t, j]: hits of j in the L_k requests ending t requests before the last.
    offsets = np.arange(sizes[-1])
    ends = n_requests - offsets
    used = offsets[None, :] < sizes[:, None]
    starts = np.maximum(ends[None, :] - sizes[:, None], 0)
    in_window = np.where(used[:, :, None], counts[ends][None, :, :] - counts[starts], 0)
    latest = in_window[:, 0, :]
    total = in_window.sum(axis=1)
    squares = (in_window * in_window).sum(axis=1)
    # Var(c/L) <= p(1-p)/L with p = c_latest/L, both sides multiplied by L^3 (L - 1).
    length = sizes[:, None]
    acceptable = length * squares - total * total <= (length - 1) * latest * (length - latest)
    prefix: IntArray = np.cumprod(acceptable, axis=0).sum(axis=0)
    return prefix


def select_windows(hits: IntArray, window_sizes: Sequence[int]) -> tuple[FloatArray, IntArray]:
    """Estimates and selected window sizes for one source state.

    ``hits`` is the one-hot matrix of its requests (one row per request, oldest first,
    one column per target state). Returns the latest estimate of the selected window
    and that window's size, per target state.
    """
    n_requests, n_targets = hits.shape
    counts = np.zeros((n_requests + 1, n_targets), dtype=np.int64)
    np.cumsum(hits, axis=0, out=counts[1:])
    sizes = np.asarray(window_sizes, dtype=np.int64)
    full = sizes[sizes <= n_requests]  # sizes with fewer estimates than L are unacceptable
    reached = _acceptable_prefix(counts, full) if full.size else np.zeros(n_targets, np.int64)
    selected = sizes[np.maximum(reached - 1, 0)]
    start = np.maximum(n_requests - selected, 0)
    columns = np.arange(n_targets)
    estimates = (counts[n_requests, columns] - counts[start, columns]) / selected
    return estimates.astype(np.float64), selected


def estimate_transitions(
    states: IntArray, n_states: int, window_sizes: Sequence[int]
) -> TransitionEstimate:
    """Multisize Sliding Window estimate of the transition matrix from a state sequence."""
    probabilities = np.zeros((n_states, n_states), dtype=np.float64)
    selected = np.full((n_states, n_states), window_sizes[0], dtype=np.int64)
    requests = np.zeros(n_states, dtype=np.int64)
    sources, targets = states[:-1], states[1:]
    all_states = np.arange(n_states)
    for source in range(n_states):
        followers = targets[sources == source]
        requests[source] = followers.size
        if followers.size == 0:
            continue
        hits = (followers[:, None] == all_states[None, :]).astype(np.int64)
        probabilities[source], selected[source] = select_windows(hits, window_sizes)
    return TransitionEstimate(probabilities, selected, requests)
