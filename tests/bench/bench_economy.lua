-- bench_economy.lua: what the credits economy costs an allow from Lua, as a
-- ratio to the plain allow of the same run (issue 10, "Speed"): an allow
-- drawn from a grant (its soft limit exhausted), an allow under a user's
-- own cap and its org's shared cap two refs up, an allow of a tier-priced
-- credit, a plain allow on a customer that holds grants it does not need,
-- and a reserve + settle pair. Lua 5.4 or LuaJIT.
local limitr = require "limitr"

local N = tonumber(arg and arg[1]) or 200000 -- calls per timed run
local RUNS = 5                               -- best of

local clock, format, print = os.clock, string.format, print

local POLICY = [[
policy:
  credits:
    tok: {}
    priced: {price: {amount: 0.000001}}
    tiered:
      pricing_model: tiered
      tiers: [{up_to: 1000, price: {amount: 0.01}}, {price: {amount: 0.001}}]
  plans:
    p:
      default: true
      entitlements:
        plain: {limit: {credit: tok, value: 1e15}}
        drawn: {limit: {credit: tok, value: 0, mode: soft}}
        capped: {limit: {credit: priced, value: 1e15}}
        tiers: {limit: {credit: tiered, value: 0, mode: soft}}
]]

local function best_of(e, id, ent)
    local best
    local allow = e.allow
    for _ = 1, RUNS do
        collectgarbage()
        local t0 = clock()
        for _ = 1, N do
            if not allow(e, id, ent, 1) then error(ent .. ": denied") end
        end
        local t = (clock() - t0) * 1e9 / N
        if not best or t < best then best = t end
    end
    return best
end

local e = assert(limitr.new(POLICY))
e:create_customer("c")
e:create_customer("g")
assert(e:add_customer_grant("g", { credit = "tok", value = 1e15 }))
assert(e:create_customer("org", nil, { type = "org" }))
assert(e:create_customer("team", nil, { type = "team", refs = { "org" } }))
assert(e:create_customer("user", nil, { refs = { "team" } }))
assert(e:add_customer_cap("org", 1e12, { shared = true }))
assert(e:add_customer_cap("user", 1e12))
local plain = best_of(e, "c", "plain")
print(format("Lua economy (%d calls per run, best of %d, os.clock; %s)",
    N, RUNS, jit and jit.version or _VERSION))
print(format("Lua   plain allow (no grants):               %8.1f ns", plain))
local function report(name, t, must, goal)
    local r = t / plain
    print(format("Lua   %-40s %8.1f ns | ratio %6.2f (must <= %.1f, goal <= %.1f) %s",
        name, t, r, must, goal, r <= must and "ok" or "MISSED"))
end
report("allow drawn from a grant (soft limit 0)", best_of(e, "g", "drawn"), 1.5, 1.2)
report("allow under own + org shared cap (2 refs)", best_of(e, "user", "capped"), 1.5, 1.2)
report("allow of a tier-priced credit", best_of(e, "c", "tiers"), 1.5, 1.2)
report("plain allow, customer holding a grant", best_of(e, "g", "plain"), 1.5, 1.2)
-- A reserve + settle pair, against the plain allow (must <= 3).
do
    local best
    local reserve, settle = e.reserve, e.settle
    for _ = 1, RUNS do
        collectgarbage()
        local t0 = clock()
        for _ = 1, N do
            local h = reserve(e, "c", "plain", 2)
            if not settle(e, "c", "plain", h, 1) then error("settle") end
        end
        local t = (clock() - t0) * 1e9 / N
        if not best or t < best then best = t end
    end
    report("reserve + settle pair", best, 3, 2)
end
assert(e:credit_remaining("g", "tok") < 1e15)
