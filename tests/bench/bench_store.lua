-- bench_store.lua: allow through a durable store (issue 11, speed): the
-- in-memory allow beside it in the same run, a batch store (target within
-- 1.5x of in-memory, goal 1.2x: the calling thread does not wait on
-- SQLite), a sync store (fsync-bound: printed), and opening a store of
-- LIMITR_BENCH_STORE_CUSTOMERS (1,000,000) customers. Prints its figures;
-- asserts nothing about time.
local limitr = require "limitr"

local POLICY = [[
policy:
  credits: {req: {}}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: req, value: 1000000000000, mode: hard}}
]]
local N = tonumber(os.getenv("LIMITR_BENCH_STORE_CUSTOMERS") or "") or 1000000
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))

local function clean(path)
    for _, s in ipairs({"", "-wal", "-shm", "-lock"}) do os.remove(path .. s) end
end

local function now()
    return os.clock()
end

-- ns per allow over `calls` calls on one customer, best of `rounds`
local function per_allow(e, calls, rounds)
    local best = math.huge
    local allow = e.allow
    for _ = 1, rounds do
        local t = now()
        for _ = 1, calls do allow(e, "u", "api", 1) end
        best = math.min(best, (now() - t) / calls * 1e9)
    end
    return best
end

local mem = assert(limitr.new(POLICY))
mem:create_customer("u")
local path = dir .. "/batch.db"
clean(path)
local batch = assert(limitr.open(POLICY, {store = path, durability = "batch"}))
batch:create_customer("u")
local nolog = dir .. "/nolog.db"
clean(nolog)
local batch_nolog = assert(limitr.open(POLICY, {store = nolog, durability = "batch", log = false}))
batch_nolog:create_customer("u")

-- Interleaved rounds, so that the machine's drift hits every kind alike.
-- A batch store with the decision log writes a row per call, and SQLite
-- takes rows slower than the engine makes them: measured in bursts of
-- 50,000 calls that the writer drains between them (the calling thread
-- only records the rows), and sustained (the calling thread writes the
-- backlog itself past 65,536 rows).
local m, b, bn, sustained = math.huge, math.huge, math.huge, math.huge
for _ = 1, 5 do
    m = math.min(m, per_allow(mem, 1000000, 1))
    bn = math.min(bn, per_allow(batch_nolog, 1000000, 1))
    b = math.min(b, per_allow(batch, 50000, 1))
    os.execute("sleep 0.5") -- the writer drains the burst
end
sustained = per_allow(batch, 500000, 1)
print(("store: allow in memory %.1f ns; batch store without the log %.1f ns (%.2fx); "
    .. "with the log %.1f ns (%.2fx) in bursts of 50,000, %.0f ns sustained (SQLite-bound)")
    :format(m, bn, bn / m, b, b / m, sustained))
assert(batch:close())
assert(batch_nolog:close())
clean(path)
clean(nolog)

local sync_path = dir .. "/sync.db"
clean(sync_path)
local sync = assert(limitr.open(POLICY, {store = sync_path}))
sync:create_customer("u")
local calls = 300
local wall = io.popen("date +%s%N"):read("*l")
for _ = 1, calls do sync:allow("u", "api", 1) end
local wall2 = io.popen("date +%s%N"):read("*l")
local us = (tonumber(wall2) - tonumber(wall)) / calls / 1e3
print(("store: allow with a sync store %.0f us of wall time (one fsync'd transaction per call, %d calls)")
    :format(us, calls))
assert(sync:close())
clean(sync_path)

-- opening a store of N customers: written once through a batch store
local big = dir .. "/big.db"
clean(big)
local w = assert(limitr.open(POLICY, {store = big, durability = "batch", log = false}))
for i = 1, N do
    local id = "cus_" .. i
    w:create_customer(id)
    w:allow(id, "api", i % 50 + 1)
end
assert(w:close())
local s = io.popen("date +%s%N"):read("*l")
local r, info = assert(limitr.open(nil, {store = big}))
local s2 = io.popen("date +%s%N"):read("*l")
assert(info.customers == N)
print(("store: opening a store of %d customers %.2f s (wall)"):format(N, (tonumber(s2) - tonumber(s)) / 1e9))
assert(r:close())
clean(big)
os.remove(dir)
