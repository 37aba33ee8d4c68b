-- bench_allow.lua: ns per engine:allow(id, "seats", 1) from Lua 5.4, beside
-- the hand-written pure-Lua limiter it replaces (issue item 8).
local limitr = require "limitr"

local ITERATIONS = tonumber(arg and arg[1]) or 3000000 -- calls per timed run
local RUNS = 5                                         -- best of
local MANY = 100000                                    -- customers of "100k"
local LUA_TARGET = 1.25  -- engine:allow <= 1.25x the hand-written limiter (issue 9)
local SCALE_TARGET = 1.2 -- 100k customers <= 1.2x one

local clock, format, print = os.clock, string.format, print

local POLICY = [[
policy:
  credits:
    seat: {}
  plans:
    free:
      entitlements:
        seats:
          limit: { credit: seat, value: 1, increment: 1, mode: hard }
    pro:
      entitlements:
        seats:
          limit: { credit: seat, value: 1e15, increment: 1, mode: hard }
]]

local HOT = "cus_000001"

-- ---- The code limitr replaces: plan limits and meters in tables ----

local limits = { free = { seats = 1 }, pro = { seats = 1e15 } }
local customers = {}

local function add_customer(id, plan)
    customers[id] = { plan = plan, meters = {} }
end

local function allow(id, ent, v)
    local c = customers[id]
    local lim = limits[c.plan][ent]
    local m = c.meters
    local nv = (m[ent] or 0) + v
    if nv > lim then return false end
    m[ent] = nv
    return true
end

-- ---- Timing: each runner returns ns per call, best of RUNS ----

local function best_of(loop)
    local best
    for _ = 1, RUNS do
        collectgarbage()
        local t0 = clock()
        local denied = loop()
        local t = (clock() - t0) * 1e9 / ITERATIONS
        if denied ~= 0 then error("an allow in the timed loop was denied") end
        if not best or t < best then best = t end
    end
    return best
end

local function hot_engine(eng)
    return best_of(function()
        local denied = 0
        for _ = 1, ITERATIONS do
            if not eng:allow(HOT, "seats", 1) then denied = denied + 1 end
        end
        return denied
    end)
end

local function hot_lua()
    return best_of(function()
        local denied = 0
        for _ = 1, ITERATIONS do
            if not allow(HOT, "seats", 1) then denied = denied + 1 end
        end
        return denied
    end)
end

local function rotating_engine(eng, ids)
    local n = #ids
    return best_of(function()
        local denied, k = 0, 1
        for _ = 1, ITERATIONS do
            if not eng:allow(ids[k], "seats", 1) then denied = denied + 1 end
            k = k + 1
            if k > n then k = 1 end
        end
        return denied
    end)
end

local function rotating_lua(ids)
    local n = #ids
    return best_of(function()
        local denied, k = 0, 1
        for _ = 1, ITERATIONS do
            if not allow(ids[k], "seats", 1) then denied = denied + 1 end
            k = k + 1
            if k > n then k = 1 end
        end
        return denied
    end)
end

local function verdict(ratio, target)
    return ratio <= target and "ok" or "MISSED"
end

local function print_pair(label, eng_ns, lua_ns)
    if jit then -- the JIT compiles the hand-written limiter to a few ns: the
        -- FFI counter line below is LuaJIT's comparison
        print(format("Lua allow, %-22s %6.1f ns  | hand-written %5.1f ns | "
            .. "ratio %.2f (no target under LuaJIT)", label, eng_ns, lua_ns,
            eng_ns / lua_ns))
        return
    end
    print(format("Lua allow, %-22s %6.1f ns  | hand-written %5.1f ns | "
        .. "ratio %.2f (target <= %g) %s", label, eng_ns, lua_ns,
        eng_ns / lua_ns, LUA_TARGET, verdict(eng_ns / lua_ns, LUA_TARGET)))
end

-- ---- Main ----

local eng = assert(limitr.new(POLICY, "yaml"))
assert(eng:create_customer(HOT, "pro"))
add_customer(HOT, "pro")
assert(eng:limit(HOT, "seats") >= 1e14, "the bench limit is not huge")

local eng1 = hot_engine(eng)
local lua1 = hot_lua()

local ids = {}
for i = 1, MANY do
    local id = format("cus_%06d", i)
    ids[i] = id
    assert(eng:create_customer(id, "pro"))
    add_customer(id, "pro")
end
collectgarbage()

local eng_many = hot_engine(eng)
local lua_many = hot_lua()
local eng_rot = rotating_engine(eng, ids)
local lua_rot = rotating_lua(ids)

print(format("Lua (%d calls per run, best of %d, os.clock; %s)",
    ITERATIONS, RUNS, _VERSION))
print_pair("1 customer:", eng1, lua1)
print_pair("100k customers (hot):", eng_many, lua_many)
print(format("Lua allow, 100k vs 1 customer:  %.2fx  | hand-written %.2fx "
    .. "(target <= %g) %s", eng_many / eng1, lua_many / lua1, SCALE_TARGET,
    verdict(eng_many / eng1, SCALE_TARGET)))
print(format("Lua [extra] rotating over 100k:  %6.1f ns  | hand-written "
    .. "%5.1f ns | ratio %.2f (cache effects; no target)",
    eng_rot, lua_rot, eng_rot / lua_rot))

-- Under LuaJIT a JIT-compiled Lua limiter is no fair baseline (it is
-- machine code); the one for the FFI front is a C counter map called
-- through the FFI (tests/bench/ffi_counter.c, LIMITR_FFI_COUNTER).
local counter_path = jit and os.getenv("LIMITR_FFI_COUNTER")
if counter_path then
    local ffi = require "ffi"
    ffi.cdef[[
void ffi_counter_put(const char *id, const char *ent);
int ffi_counter_incr(const char *id, size_t id_len, const char *ent, size_t ent_len);
]]
    local counter = ffi.load(counter_path)
    counter.ffi_counter_put(HOT, "seats")
    local incr = counter.ffi_counter_incr
    local ffi_ns = best_of(function()
        local denied = 0
        for _ = 1, ITERATIONS do
            if incr(HOT, #HOT, "seats", 5) ~= 0 then denied = denied + 1 end
        end
        return denied
    end)
    local target = 2.5
    print(format("Lua allow (FFI), 100k customers: %6.1f ns  | FFI C counter %5.1f ns | "
        .. "ratio %.2f (target <= %g) %s", eng_many, ffi_ns, eng_many / ffi_ns,
        target, verdict(eng_many / ffi_ns, target)))
end
eng:close()
