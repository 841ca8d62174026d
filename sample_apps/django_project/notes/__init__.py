"""The notes app of the sample Django project."""
