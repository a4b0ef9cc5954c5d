"""The controller's use cases: what each API call and each background step does.

A handler of the REST API (:mod:`fleetwise.controller.api`) only authenticates,
reads its parameters and calls one use case; the use case reads and writes the
store in one transaction (so what it reads agrees with itself), calls the decision
core where a decision is needed, and answers in the API's terms
(:mod:`fleetwise.api.schemas`). Background tasks (the global manager's rounds, the
executor's passes) call use cases the same way, one transaction per step; a step
that acts through a driver writes before and after the driver call.

* :mod:`.agents` – registrations, heartbeats, samples, migration assignments and results
* :mod:`.requests` – reallocation requests
* :mod:`.inventory` – hosts, VMs, migrations, maintenance, figures, health
* :mod:`.plans` – plans: list, show, approve, cancel; skipping actions
* :mod:`.rounds` – the global manager's round and sample retention
* :mod:`.execution` – the executor's pass, with :mod:`.migrations` and :mod:`.power`
* :mod:`.shapes` – store records and API bodies, each way; :mod:`.figures` – efficacy
"""
