"""The controller harness fixtures, shared with the controller's own tests."""

from tests.controller.conftest import clock, make_harness

__all__ = ["clock", "make_harness"]
