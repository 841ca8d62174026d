"""A small Django project: `python -m wsgiserver sample_apps.django_project.wsgi:application`.

Set WSGISERVER_SAMPLE_DB to the SQLite file to use, then run `migrate` (see docs/frameworks.rst).
"""
