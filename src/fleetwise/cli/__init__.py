"""The ``fleetwise`` command line."""
