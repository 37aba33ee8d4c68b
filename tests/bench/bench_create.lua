-- bench_create.lua: µs per engine:create_customer(id, plan) from Lua (a
-- snapshot table comes back), beside engine:customer(id) and the C figures
-- of bench_create.c (same policy, same ids; issue 8, item 5).
local limitr = require "limitr"

local N = tonumber(arg and arg[1]) or 100000 -- customers per timed run
local RUNS = 5                                -- best of

local clock, format, print = os.clock, string.format, print

-- Kept equal to bench_create.c's policy.
local POLICY = [[
policy:
  credits:
    seat: {}
    request: {}
  plans:
    pro:
      entitlements:
        seats: { limit: { credit: seat, value: 10 } }
        api: { limit: { credit: request, value: 1000, resets: true } }
        sso: {}
]]

local ids = {}
for i = 1, N do ids[i] = format("cus_%06d", i) end

-- µs per call of f(engine, id) over the N ids, on a fresh engine (prepared
-- by setup, untimed), best of RUNS.
local function best_of(setup, f)
    local best
    for _ = 1, RUNS do
        local e = assert(limitr.new(POLICY, "yaml"))
        if setup then setup(e) end
        collectgarbage()
        local t0 = clock()
        for i = 1, N do
            if not f(e, ids[i]) then error("a call in the timed loop failed") end
        end
        local t = (clock() - t0) * 1e6 / N
        e:close()
        if not best or t < best then best = t end
    end
    return best
end

local create = best_of(nil, function(e, id) return e:create_customer(id, "pro") end)
local read = best_of(function(e)
    for i = 1, N do e:create_customer(ids[i], "pro") end
end, function(e, id) return e:customer(id) end)

print(format("Lua create_customer (%d new customers per run, best of %d, os.clock; %s)",
    N, RUNS, jit and jit.version or _VERSION))
print(format("Lua create_customer (snapshot table): %6.2f us", create))
print(format("Lua customer(id) (snapshot table):    %6.2f us", read))
