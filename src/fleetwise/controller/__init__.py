"""The controller: REST API, global manager and plan executor over the central store.

* :mod:`.config` – the YAML configuration; :mod:`.tokens`, :mod:`.auth` – who calls.
* :mod:`.context` – what the API and the services share (store, clock, drivers);
  :mod:`.serial_store`, :mod:`.power` – its parts.
* :mod:`.api` – the FastAPI application.
* :mod:`.global_manager` – planning rounds, through :mod:`.snapshot` (store → decision
  core) and :mod:`.plan_draft` (decision core → stored plan).
* :mod:`.executor` – carrying plans out, with :mod:`.dependencies`, :mod:`.caps`,
  :mod:`.migration_actions` and :mod:`.power_actions`.
* :mod:`.metrics`, :mod:`.stats`, :mod:`.efficacy` – Prometheus metrics and figures.
* :mod:`.runtime` – serving it all; :mod:`.cli` – the ``fleetwise controller`` command.
"""

__all__: list[str] = []
