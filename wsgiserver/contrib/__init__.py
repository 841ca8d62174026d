"""Adapters for other test tools: `wsgiserver.contrib.django` (LiveServerTestCase) and
`wsgiserver.contrib.webtest` (a drop-in `StopableWSGIServer`). Each imports its framework only
when imported itself; the core package stays stdlib-only.
"""
