"""The transport: one connected socket and the requests served on it.

Owns: recv/send/sendfile on one socket with deadlines, the request loop that feeds the
protocol layer and calls the gateway, connection set-up (PROXY header, TLS handshake), error
responses (the one place an `HTTPError` becomes bytes on the wire), lingering close, overload
shedding and request deadlines, and access records. OS errors are translated here, once.
Must not: own threads or the poller; when it would block waiting for a client it hands the
connection back to the server layer.
"""
