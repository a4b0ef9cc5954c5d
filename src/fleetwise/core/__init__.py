"""The pure decision core.

Everything below this package is a function of observations, configuration and
explicit state that returns decisions. Nothing here performs I/O, reads a clock,
draws unseeded random numbers or keeps module-level mutable state; the live
services and the simulator both call into it the same way.
"""
