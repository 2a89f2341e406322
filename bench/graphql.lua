-- wrk script: POSTs the GraphQL request in $BODY (JSON) to the URL; errors are
-- counted and reported by wrk_common.lua.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk_common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")
