"""The PEP 3333 gateway: one parsed request in, one application call, one response out.

Owns: the environ (`environ`), running the app and calling `close()` (`gateway`),
`start_response`/`write()` and sending the body (`response`), `wsgi.input` and
`wsgi.file_wrapper` (`body`), chunked bodies received before the app runs (`spool`), trusted
proxy headers (`forwarded`) and request ids (`requestid`). Must not: touch sockets or threads;
it talks to its connection through the narrow `Channel` interface the transport implements,
and frames bytes with the sans-IO protocol layer below it.
"""
