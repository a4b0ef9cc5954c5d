"""The CloudSim 3.0.3 model of the published PlanetLab experiments."""
