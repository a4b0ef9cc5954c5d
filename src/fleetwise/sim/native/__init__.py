"""The fleetwise-native model: the live managers' own decisions on a simulated fleet."""
