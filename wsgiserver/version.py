"""The version of wsgiserver (one place; the distribution's metadata takes it from here).

Owns: the version string. Must not: import anything.
"""

__version__ = "0.1.0"
