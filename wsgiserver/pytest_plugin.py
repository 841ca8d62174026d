"""pytest plugin registered through the `pytest11` entry point (fixtures added in issue 4)."""
