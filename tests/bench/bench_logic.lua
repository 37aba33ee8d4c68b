-- bench_logic.lua: what policy logic costs from Lua, as a ratio to the plain
-- allow of the same run (issue 9, section 2): a soft limit whose on_exceed
-- runs each call, a credit cost function on each commit, a limit `value`
-- snippet, one host on("meter-changed") subscriber. Lua 5.4 or LuaJIT.
local limitr = require "limitr"

local N = tonumber(arg and arg[1]) or 200000 -- calls per timed run
local RUNS = 5                               -- best of

local clock, format, print = os.clock, string.format, print

local POLICY = [[
policy:
  credits:
    tok: {}
    priced: {overhead: "function(units, ctx) return units * 0.000003 end"}
  plans:
    p:
      default: true
      entitlements:
        plain: {limit: {credit: tok, value: 1e15}}
        exceed:
          limit:
            credit: tok
            mode: soft
            value: 0
            on_exceed: "function(ctx) return ctx.requested < 1e9 end"
        cost: {limit: {credit: priced, value: 1e15}}
        valued: {limit: {credit: tok, value: "function(customer) return 1e15 end"}}
        watched: {limit: {credit: tok, value: 1e15}}
        hosted: {limit: {credit: tok, value: "function(customer) return App.quota(7) end"}}
]]

local function best_of(e, ent)
    local best
    local allow = e.allow
    for _ = 1, RUNS do
        collectgarbage()
        local t0 = clock()
        for _ = 1, N do
            if not allow(e, "c", ent, 1) then error(ent .. ": denied") end
        end
        local t = (clock() - t0) * 1e9 / N
        if not best or t < best then best = t end
    end
    return best
end

local e = assert(limitr.new(POLICY))
e:create_customer("c")
local plain = best_of(e, "plain")
local cases = {
    { "soft limit, on_exceed runs each call", "exceed", 12, 6 },
    { "credit cost function each commit", "cost", 3, 2 },
    { "limit value snippet", "valued", 8, 4 },
}
local extras = {
    { "value snippet calling a host function", "hosted" },
}
print(format("Lua policy logic (%d calls per run, best of %d, os.clock; %s)",
    N, RUNS, jit and jit.version or _VERSION))
if jit then -- issue 9's targets are Lua 5.4's; the plain allow here is the FFI's
    print("Lua   (LuaJIT: printed beside Lua 5.4's targets; its plain allow is the FFI path)")
end
print(format("Lua   plain allow:                           %8.1f ns", plain))
local function report(name, t, must, goal)
    local r = t / plain
    print(format("Lua   %-40s %8.1f ns | ratio %6.1f (must <= %d, goal <= %d) %s",
        name, t, r, must, goal, r <= must and "ok" or "MISSED"))
end
for _, c in ipairs(cases) do report(c[1], best_of(e, c[2]), c[3], c[4]) end
-- (A host function, as a subscriber, takes LuaJIT's allow off the FFI.)
e:lib("App", "quota", function(id) return 1e15 end)
for _, c in ipairs(extras) do
    local t = best_of(e, c[2])
    print(format("Lua   %-40s %8.1f ns | ratio %6.1f (no target)", c[1], t, t / plain))
end
e:lib("App", "quota", nil)
local seen = 0
local sub = e:on("meter-changed", function(ev) seen = seen + 1 end)
report("one on(\"meter-changed\") subscriber", best_of(e, "watched"), 12, 6)
assert(seen > 0)
-- What a typical billing subscriber reads: the amount and the customer's
-- ID (built on read; the rest of the customer is not).
e:off(sub)
e:on("meter-changed", function(ev) seen = seen + ev.meter.diff + #ev.customer.id end)
local t = best_of(e, "watched")
print(format("Lua   %-40s %8.1f ns | ratio %6.1f (no target)",
    "same, reading ev.meter.diff, customer.id", t, t / plain))
