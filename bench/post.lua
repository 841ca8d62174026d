-- wrk script for the `post` scenario: every request POSTs a 64 KiB body
-- that bench/app.py echoes back.
wrk.method = "POST"
wrk.body = string.rep("x", 65536)
wrk.headers["Content-Type"] = "application/octet-stream"
