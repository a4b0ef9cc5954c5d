"""The controller's REST API (FastAPI): routes, authentication, error responses."""

from fleetwise.controller.api.app import create_app

__all__ = ["create_app"]
