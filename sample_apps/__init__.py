"""Sample WSGI applications used by the README, the tests and the benchmarks."""
