"""The controller's REST API contract, shared by the controller, the agents and the admin CLI."""
