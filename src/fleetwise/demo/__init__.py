"""The live demo: a local controller and agents on a sped-up simulated fleet."""

__all__: list[str] = []
