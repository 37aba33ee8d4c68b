-- A limit raised live (docs/reload.md): a customer at its daily quota is
-- denied, the policy file is rewritten with a higher quota and reloaded, and
-- the same customer goes on with its usage kept. Nothing restarts.
local limitr = require "limitr"

local function policy(quota)
    return ([[
policy:
  credits:
    request: {}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: request, value: %d, resets: true, reset_inc: 1day}}
]]):format(quota)
end

-- The policy lives in a file, as it would in production.
local path = os.tmpname() .. ".yaml"
local function write_policy(quota)
    local f = assert(io.open(path, "w"))
    f:write(policy(quota))
    f:close()
end

write_policy(100)
local engine = assert(limitr.load(path))
engine:set_time(1774872000000) -- 2026-03-30T12:00Z, so the output is fixed
engine:on("policy-reloaded", function(ev)
    print(("policy-reloaded: fingerprint %s, %d warnings"):format(
        ev.previous == ev.current and "unchanged" or "changed", #ev.warnings))
end)
engine:create_customer("acme")

local function try(n)
    local ok, reason = engine:allow("acme", "api", n)
    print(("allow %3d -> %-5s %s  (used %d of %d)"):format(n, tostring(ok), reason or "",
        engine:value("acme", "api"), engine:limit("acme", "api")))
end

try(100)
try(1)
write_policy(150) -- support raised the quota
assert(engine:reload_file(path))
try(50)
try(1)
-- A broken edit is refused whole; the running policy stays.
local f = assert(io.open(path, "w"))
f:write((policy(150):gsub("request, value", "requests, value")))
f:close()
local ok, err = engine:reload_file(path)
print(("reload refused: %s"):format(err))
try(1)
os.remove(path)
