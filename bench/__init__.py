"""Benchmark suite for wsgiserver against peer WSGI servers.

Run ``python -m bench`` from the repository root.  The package is split by
responsibility: ``environment`` (virtualenv, wrk, libev), ``servers`` (how
each server is launched), ``scenarios`` (what is measured), ``process``
(starting, sampling and stopping a server, its CPU time), ``ports`` (port
choice and readiness), ``wrk`` (load generation and parsing), ``idle`` (the
idle connection helper), ``runner`` (one measurement), ``rounds`` (the
alternating order of runs; medians, ranges and ratios over rounds),
``report`` (tables) and ``cli`` (the command line).  ``embed`` is the
separate start/stop benchmark.
"""
