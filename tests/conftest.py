"""Settings shared by the whole suite."""

from hypothesis import settings

# Speed is measured by the benchmarks, not by tests: a first call that compiles a
# numba kernel must not count as a slow example.
settings.register_profile("fleetwise", deadline=None)
settings.load_profile("fleetwise")
