-- Reference-model property test of metering: random sequences of
-- create / delete / allow / check / increment / decrement / advance /
-- set_time run through the engine and through the small model in
-- model_reference.lua (hard, soft and observe limits; no reset, interval and
-- calendar resets), which must agree at every step: each call's result, the
-- meter events it fires, and afterwards value(), remaining(), resets() of
-- every (customer, entitlement) and each customer snapshot's meters.
--
-- Fixed seeds; a disagreement fails with the seed, the step, a shrunk
-- sequence and the full sequence, both as Lua that can be pasted back.
-- Environment: MODEL_SEEDS=n and MODEL_STEPS=n run more (seeds 1..n);
-- MODEL_BACKWARDS=0 keeps the clock from going back; MODEL_STATS=1 prints
-- what each seed exercised to stderr.
--
-- Replay a printed sequence with:
--   LUA_PATH='lua/?.lua;lua/?/init.lua;tests/spec/?.lua;;' LUA_CPATH='build/?.so;;' lua5.4 repro.lua
local limitr = require "limitr"
local R = require "model_reference"
local num = R.num
local DAY = R.DAY

local NSEEDS = tonumber(os.getenv("MODEL_SEEDS") or "") or 10
local NSTEPS = tonumber(os.getenv("MODEL_STEPS") or "") or 1200
local T_BASE = 1829260800000 -- 2027-12-20T00:00:00Z: leap 2028 is crossed
local STATS = os.getenv("MODEL_STATS") and {} or nil -- counts, printed to stderr
local LAST_NOW
local BACKWARDS = os.getenv("MODEL_BACKWARDS") ~= "0"
local IDS = { "c1", "c2", "c3", "c4", "ghost" } -- ghost is never created

-- ---- Deterministic PRNG (xorshift32 on integers) ----

-- One xorshift32 step, the same sequence on both hosts: Lua 5.4's operators
-- (compiled from text, as LuaJIT cannot parse them) or LuaJIT's bit library
-- (signed 32-bit results, brought back to 0..2^32-1). This file and
-- model_reference.lua write a // b as math.floor(a / b) for the same reason.
local bit = jit and require "bit"
local xorshift = bit and function(x)
    x = bit.bxor(x, bit.lshift(x, 13))
    x = bit.bxor(x, bit.rshift(x, 17))
    return bit.bxor(x, bit.lshift(x, 5)) % 0x100000000
end or load([[return function(x)
    x = x ~ ((x << 13) & 0xffffffff)
    x = x ~ (x >> 17)
    return x ~ ((x << 5) & 0xffffffff)
end]])()

local function prng(seed)
    local x = (seed * 2654435761 + 0x9E3779B9) % 0x100000000
    if x == 0 then x = 1 end
    return function(n) -- 1..n
        x = xorshift(x)
        return x % n + 1
    end
end

-- ---- Operations ----

local function op_text(op)
    local k = op[1]
    if k == "create" then return string.format("e:create_customer(%q, %q)", op[2], op[3]) end
    if k == "delete" then return string.format("e:delete_customer(%q)", op[2]) end
    if k == "allow" or k == "check" then
        return string.format("e:%s(%q, %q, %s)", k, op[2], op[3], num(op[4]))
    end
    if k == "increment" or k == "decrement" then return string.format("e:%s(%q, %q)", k, op[2], op[3]) end
    if k == "advance" or k == "set_time" then return string.format("e:%s(%s)", k, num(op[2])) end
    error("bad op " .. tostring(k))
end

local function ops_text(t0, ops)
    local out = { 'local e = require("limitr").new(require("model_reference").POLICY)',
                  "e:set_time(" .. num(t0) .. ")" }
    for i, op in ipairs(ops) do out[#out + 1] = op_text(op) .. " -- " .. i end
    return table.concat(out, "\n")
end

-- A random next operation, drawn with the model's state (for boundaries).
-- Calls go mostly to a "hot" set of 5 entitlements, drawn anew every 100
-- steps, so meters fill up and hit their limits; reads cover them all.
local function gen_op(rand, model, hot)
    local r = rand(100)
    local id = IDS[rand(#IDS)]
    if rand(10) > 1 and id == "ghost" then id = IDS[rand(4)] end
    local ent = rand(10) == 1 and R.ENTS[rand(#R.ENTS)] or hot[rand(#hot)]
    if id ~= "ghost" and model.customers[id] == nil and rand(10) <= 6 then r = 1 end
    if r <= 5 then
        local c = model.customers[id]
        return { "create", id, c and c.plan or R.PLAN_NAMES[rand(#R.PLAN_NAMES)] }
    elseif r <= 6 then
        return { "delete", id }
    elseif r <= 40 then
        local v = (rand(31) - 7) / 2 -- -3 .. 12 by halves
        if rand(4) == 1 then v = rand(16) - 4 end -- integers too
        return { "allow", id, ent, v }
    elseif r <= 52 then
        return { "check", id, ent, (rand(31) - 7) / 2 }
    elseif r <= 64 then
        return { "increment", id, ent }
    elseif r <= 72 then
        return { "decrement", id, ent }
    elseif r <= 86 then
        -- ms, minutes, hours, days, now and then up to 100 days (a seed's
        -- run spans about three years)
        local k = rand(20)
        if k == 20 and rand(3) > 1 then k = 19 end
        local span
        if k <= 5 then span = rand(1000)
        elseif k <= 10 then span = rand(600) * 60000
        elseif k <= 15 then span = rand(72) * 3600000 + rand(3600000)
        elseif k <= 19 then span = rand(4) * DAY + rand(DAY)
        else span = rand(100) * DAY end
        return { "advance", span }
    elseif r <= 88 and BACKWARDS then
        -- the clock going back (docs/engine.md 14.11): minutes to 10 days
        return { "set_time", model.now - (rand(2) == 1 and rand(600) * 60000 or rand(10 * DAY)) }
    else
        -- to (or 1 ms before) the next reset of some meter, per the model:
        -- the nearest of five picked at random
        local nxt
        for _ = 1, 5 do
            local _, _, x = model:reads(IDS[rand(4)], R.ENTS[rand(#R.ENTS)])
            if x ~= nil and (nxt == nil or x < nxt) then nxt = x end
        end
        if nxt == nil then nxt = model.now + rand(DAY) end
        local k = rand(4)
        if k == 1 then return { "set_time", nxt - 1 } end
        if k == 2 then return { "advance", nxt - model.now } end
        return { "set_time", nxt }
    end
end

-- ---- Running one sequence on both ----

local function engine_event(ev, name)
    local m = ev.meter or {}
    local s
    if name == "meter-reset" then
        s = string.format("meter-reset previous_value=%s period_start=%s", num(ev.previous_value),
            num(ev.period_start))
    elseif name == "meter-limit" then
        s = string.format("meter-limit value=%s invalid_value=%s overage=%s", num(m.value),
            num(ev.invalid_value), num(ev.overage))
    elseif name == "meter-changed" or name == "meter-overage" then
        s = string.format("%s old=%s value=%s diff=%s%s", name, num(m.old), num(m.value), num(m.diff),
            name == "meter-overage" and (" overage=" .. num(ev.overage)) or "")
    else
        return name
    end
    return s .. " @" .. tostring(ev.customer and ev.customer.id) .. "/" .. tostring(ev.entitlement)
end

local function model_events(list, id, ent)
    local out = {}
    for i, s in ipairs(list) do
        out[i] = s:match("^meter%-") and (s .. " @" .. id .. "/" .. ent) or s
    end
    return out
end

local function same(a, b)
    if #a ~= #b then return false end
    for i = 1, #a do if a[i] ~= b[i] then return false end end
    return true
end

local function show(list) return "{" .. table.concat(list, "; ") .. "}" end

-- Compares value(), remaining(), resets() of every entitlement of the
-- customers in `ids`, and, when `snap_id` is given, that customer's snapshot
-- meters (value and started of the current period).
local function compare_reads(e, model, ids, snap_id)
    for _, id in ipairs(ids) do
        for _, ent in ipairs(R.ENTS) do
            local mv, mr, mres = model:reads(id, ent)
            local ev, er, eres = e:value(id, ent), e:remaining(id, ent), e:resets(id, ent)
            if ev ~= mv or er ~= mr or eres ~= mres then
                return string.format("reads of %s/%s at now=%s: engine value=%s remaining=%s resets=%s,"
                    .. " model value=%s remaining=%s resets=%s", id, ent, num(model.now), num(ev), num(er),
                    num(eres), num(mv), num(mr), num(mres))
            end
        end
    end
    if snap_id then
        local id = snap_id
        local snap = e:customer(id)
        if (snap ~= nil) ~= (model.customers[id] ~= nil) then
            return string.format("customer(%q): engine %s, model %s", id, tostring(snap ~= nil),
                tostring(model.customers[id] ~= nil))
        end
        if snap then
            for _, ent in ipairs(R.ENTS) do
                local mv, mstart = model:meter_view(id, ent)
                local sm = snap.meters and snap.meters[ent]
                local sv, sstart = sm and sm.value, sm and sm.started
                if sv ~= mv or sstart ~= mstart then
                    return string.format("customer(%q).meters.%s at now=%s: engine value=%s started=%s,"
                        .. " model value=%s started=%s", id, ent, num(model.now), num(sv), num(sstart),
                        num(mv), num(mstart))
                end
            end
        end
    end
    return nil
end

-- Runs ops (a list, or a generator function(rand, model) with n steps) from
-- time t0. Returns nil when both agree throughout, else the failing step,
-- the message and the ops run so far.
local function run(t0, ops, gen, n)
    local e = assert(limitr.new(R.POLICY, "yaml"))
    local model = R.new(t0)
    e:set_time(t0)
    local fired = {}
    e:on("*", function(ev, name) fired[#fired + 1] = engine_event(ev, name) end)
    local done = {}
    local count = gen and n or #ops
    for i = 1, count do
        local op = gen and gen(model) or ops[i]
        done[i] = op
        fired = {}
        local k = op[1]
        local prev_now = model.now
        local eok, ereason, mok, mreason, mev
        if k == "create" then
            local snap, err = e:create_customer(op[2], op[3])
            eok, ereason = snap ~= nil, err
            mok, mev = model:create(op[2], op[3])
        elseif k == "delete" then
            local _
            eok, _, ereason = e:delete_customer(op[2]) -- true, or nil, err, code
            mok, mev = model:delete(op[2])
            if not mok then mok, mreason = nil, "unknown_customer" end
        elseif k == "allow" or k == "check" then
            eok, ereason = e[k](e, op[2], op[3], op[4])
            mok, mreason, mev = model:call(op[2], op[3], op[4], k == "allow")
            mev = model_events(mev, op[2], op[3])
        elseif k == "increment" or k == "decrement" then
            eok, ereason = e[k](e, op[2], op[3])
            mok, mreason, mev = model:call(op[2], op[3], nil, true, k == "increment" and 1 or -1)
            mev = model_events(mev, op[2], op[3])
        elseif k == "advance" then
            e:advance(op[2])
            model:advance(op[2])
            mev = {}
        else
            e:set_time(op[2])
            model:set_time(op[2])
            mev = {}
        end
        if STATS then
            if k == "advance" or k == "set_time" then
                STATS["days moved by " .. k] = (STATS["days moved by " .. k] or 0)
                    + math.floor((model.now - prev_now) / DAY)
            end
            local key = k .. (eok == false and (" -> " .. tostring(ereason)) or "")
            STATS[key] = (STATS[key] or 0) + 1
            for _, f in ipairs(fired) do
                local name = f:match("^(%S+)")
                STATS["event " .. name] = (STATS["event " .. name] or 0) + 1
            end
        end
        local msg
        if k ~= "advance" and k ~= "set_time" and (eok ~= mok or ereason ~= mreason) then
            msg = string.format("%s returned engine %s, %s; model %s, %s", op_text(op), tostring(eok),
                tostring(ereason), tostring(mok), tostring(mreason))
        elseif not same(fired, mev) then
            msg = string.format("%s fired engine %s; model %s", op_text(op), show(fired), show(mev))
        elseif e:now() ~= model.now then
            msg = string.format("now: engine %s, model %s", num(e:now()), num(model.now))
        else
            -- a clock move or a customer change: every customer; a metering
            -- call: its customer (snapshots, slower, on a rotation)
            local all = k == "advance" or k == "set_time" or k == "create" or k == "delete"
            msg = compare_reads(e, model, all and IDS or { op[2] },
                (i % 5 == 0 or i == count) and IDS[math.floor(i / 5) % 4 + 1] or nil)
            if msg then msg = "after " .. op_text(op) .. ": " .. msg end
        end
        if msg then
            e:close()
            return i, msg, done
        end
    end
    LAST_NOW = model.now
    e:close()
    return nil
end

-- Greedy delta debugging: drop chunks while the sequence still fails.
local function shrink(t0, ops, budget_s)
    local deadline = os.clock() + budget_s
    local chunk = math.floor(#ops / 2)
    while chunk >= 1 and os.clock() < deadline do
        local i, removed = 1, false
        while i <= #ops and os.clock() < deadline do
            local cand = {}
            for j = 1, #ops do
                if j < i or j >= i + chunk then cand[#cand + 1] = ops[j] end
            end
            local at = run(t0, cand)
            if at then
                ops = {}
                for j = 1, at do ops[j] = cand[j] end
                removed = true
            else
                i = i + chunk
            end
        end
        if not removed then chunk = math.floor(chunk / 2) end
    end
    local _, msg = run(t0, ops)
    return ops, msg
end

local function check_seed(seed)
    local rand = prng(seed)
    local t0 = T_BASE + rand(40) * DAY + rand(DAY)
    local hot, step = {}, 0
    local ok, at, msg, ops = xpcall(run, debug.traceback, t0, nil, function(model)
        if step % 100 == 0 then
            for i = 1, 5 do hot[i] = R.ENTS[rand(#R.ENTS - 2)] end
        end
        step = step + 1
        return gen_op(rand, model, hot)
    end, NSTEPS)
    if not ok then error(string.format("seed %d raised: %s", seed, at), 0) end
    if STATS then
        local keys = {}
        for key in pairs(STATS) do keys[#keys + 1] = key end
        table.sort(keys)
        for _, key in ipairs(keys) do io.stderr:write(string.format("%6d  %s\n", STATS[key], key)) end
        io.stderr:write(string.format("seed %d: clock %s .. %s\n", seed,
            os.date("!%Y-%m-%d", math.floor(t0 / 1000)),
            os.date("!%Y-%m-%d", math.floor((LAST_NOW or t0) / 1000))))
        for key in pairs(STATS) do STATS[key] = nil end
    end
    if at == nil then return end
    local small, small_msg = shrink(t0, ops, 30)
    error(string.format("engine and model disagree: seed %d, step %d\n%s\n\n"
        .. "shrunk to %d ops (%s):\n%s\n\nfull sequence (%d ops):\n%s\n", seed, at, msg, #small,
        small_msg, ops_text(t0, small), #ops, ops_text(t0, ops)), 0)
end

describe("reference model", function()
    -- The model's calendar against the worked values of docs/policy.md section 12
    -- and docs/engine.md 13.4, so a disagreement below is not the model's.
    it("computes the documented calendar boundaries", function()
        local function day(ms) return os.date("!%Y-%m-%d", math.floor(ms / 1000)) end
        local t = 1773144000000 -- 2026-03-10T12:00:00Z
        local cases = {
            { "monthly:15", "2026-02-15", "2026-03-15" },
            { "monthly:last", "2026-02-28", "2026-03-31" },
            { "weekly:mon", "2026-03-09", "2026-03-16" },
            { "nth_weekday:2:tue", "2026-03-10", "2026-04-14" },
            { "nth_weekday:3:tue", "2026-02-17", "2026-03-17" },
            { "quarterly:1", "2026-01-01", "2026-04-01" },
            { "yearly:3-10", "2026-03-10", "2027-03-10" },
        }
        for _, c in ipairs(cases) do
            assert.are.equal(c[2], day(R.cal_start(c[1], t)), c[1])
            assert.are.equal(c[3], day(R.cal_next(c[1], t)), c[1])
        end
        assert.are.equal(1771113600000, R.cal_start("monthly:15", t))
        assert.are.equal(1776124800000, R.cal_next("nth_weekday:2:tue", t))
        local feb10 = 1770724800000 -- 2026-02-10T12:00Z
        assert.are.equal("2026-01-31", day(R.cal_start("monthly:31", feb10)))
        assert.are.equal("2026-02-28", day(R.cal_next("monthly:31", feb10)))
        assert.are.equal("2026-03-31", day(R.cal_start("monthly:31", 1775822400000))) -- Apr 10
        assert.are.equal("2026-04-30", day(R.cal_next("monthly:31", 1775822400000)))
        assert.are.equal("2026-02-28", day(R.cal_start("yearly:2-29", 1799582400000))) -- 2027-01-10
        assert.are.equal("2027-02-28", day(R.cal_next("yearly:2-29", 1799582400000)))
        assert.are.equal("2027-02-28", day(R.cal_start("yearly:2-29", 1835352000000))) -- 2028-02-28T12Z
        assert.are.equal("2028-02-29", day(R.cal_next("yearly:2-29", 1835352000000)))
        local b = 1767225600000 -- 2026-01-01
        for _, q in ipairs({ "2026-01-31", "2026-04-30", "2026-07-31", "2026-10-31", "2027-01-31" }) do
            b = R.cal_next("quarterly:31", b)
            assert.are.equal(q, day(b))
        end
        -- docs/engine.md 13.4: monthly:31 from 2025-01-10T12:00Z
        assert.are.equal(1738281600000, R.cal_next("monthly:31", 1736510400000))
        assert.are.equal(1740700800000, R.cal_next("monthly:31", 1738713600000))
        assert.are.equal(1709164800000, R.cal_start("monthly:31", 1709164800000))
        assert.are.equal(1743379200000, R.cal_start("monthly:31", 1744675200000))
        assert.are.equal(1745971200000, R.cal_next("monthly:31", 1744675200000))
    end)

    it("and the engine agree on the worked example 13.4 shape (smoke)", function()
        local e = assert(limitr.new(R.POLICY, "yaml"))
        e:set_time(1736510400000)
        assert.is_truthy(e:create_customer("x", "a"))
        assert.are.equal(1738281600000, e:resets("x", "hard_mo31"))
        local at, msg = run(1736510400000, {
            { "create", "x", "a" }, { "allow", "x", "hard_mo31", 6 }, { "set_time", 1738281600000 },
            { "set_time", 1738713600000 }, { "allow", "x", "hard_mo31", 1 },
            { "set_time", 1744675200000 }, { "allow", "x", "soft_mo31", 12 },
        })
        assert(at == nil, msg)
    end)
end)

describe("engine against the reference model", function()
    for seed = 1, NSEEDS do
        it(string.format("agrees on seed %d (%d steps)", seed, NSTEPS), function()
            check_seed(seed)
        end)
    end
end)
