-- wrk script for the `post-chunked` scenario: every request POSTs the same 64 KiB as `post`,
-- framed with Transfer-Encoding: chunked (four 16 KiB chunks), which bench/app.py echoes.
-- wrk.format() would add a Content-Length (and a request with both is refused as
-- smuggling), so the request is written out whole here. X-Expect-Length lets the app answer
-- 500 to a body that did not arrive whole, which wrk counts as an error.
local chunk = string.rep("x", 16384)
local body = ""
for _ = 1, 4 do
  body = body .. string.format("%x\r\n", #chunk) .. chunk .. "\r\n"
end
body = body .. "0\r\n\r\n"

local raw = nil

function request()
  if raw == nil then
    raw = "POST " .. wrk.path .. " HTTP/1.1\r\n"
      .. "Host: " .. wrk.host .. ":" .. wrk.port .. "\r\n"
      .. "Content-Type: application/octet-stream\r\n"
      .. "Transfer-Encoding: chunked\r\n"
      .. "X-Expect-Length: 65536\r\n"
      .. "\r\n" .. body
  end
  return raw
end
