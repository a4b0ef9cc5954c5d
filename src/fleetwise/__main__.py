"""``python -m fleetwise``: the command line."""

from fleetwise.cli.main import main

main()
