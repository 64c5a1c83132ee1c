"""Tolerances of the statistical tests, fixed in advance for the whole suite."""

#: Largest accepted ``|z|`` of a Monte Carlo estimate against its reference, in combined
#: standard errors (the project's standard; decoys must exceed it).
Z_TOL = 4.5
