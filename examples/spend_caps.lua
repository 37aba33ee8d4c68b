-- An org budget shared by teams and users (examples/spend_caps.yaml): a
-- shared 5-rune cap on the org binds everyone below it, a team has its own
-- 3-rune cap on top, and one user a 1-rune cap of their own; an
-- observe-only cap watches spend without denying.
local limitr = require "limitr"

local dir = (arg and arg[0] or ""):match("^(.*)/") or "."
local engine = assert(limitr.load(dir .. "/spend_caps.yaml"))
engine:set_time(1767225600000) -- 2026-01-01T00:00Z, so the output is fixed

engine:create_customer("acme", nil, { type = "org" })
engine:create_customer("research", nil, { type = "team", refs = { "acme" } })
engine:create_customer("ana", nil, { refs = { "research" } })
engine:create_customer("ben", nil, { refs = { "research" } })
engine:create_customer("carl", nil, { refs = { "acme" } })

engine:add_customer_cap("acme", 5, { id = "org_budget", shared = true })
engine:add_customer_cap("research", 3, { id = "team_budget", shared = true })
engine:add_customer_cap("ben", 1, { id = "ben_budget" })
engine:add_customer_cap("acme", 4, { id = "heads_up", shared = true, observe_only = true })

engine:on("cap-limit", function(ev)
    print(("  %-5s denied by %s's %s (%.2f of %.2f runes used)"):format(ev.caller.id,
        ev.customer.id, ev.cap.id, ev.cap.meter_value, ev.cap.value))
end)
engine:on("cap-threshold-crossed", function(ev)
    print(("  %s's %s reached %.2f runes (call by %s)"):format(ev.customer.id, ev.cap.id,
        ev.cap.meter_value, ev.caller.id))
end)

local function spend(who, ent, n)
    local ok, why = engine:allow(who, ent, n)
    print(("%-5s %-6s %7d -> %s"):format(who, ent, n, ok and "allowed" or why))
end

local function budgets()
    for _, c in ipairs({ { "acme", "org_budget" }, { "research", "team_budget" }, { "ben", "ben_budget" } }) do
        local cap = engine:customer_cap(c[1], c[2])
        print(("  %-11s %.2f of %.2f runes"):format(c[2], cap.meter_value, cap.value))
    end
end

spend("ana", "chat", 100000)  -- 1 rune
spend("ben", "images", 20)    -- 0.80
spend("ben", "images", 10)    -- 0.40 more: past ben's own 1 rune
spend("ana", "images", 30)    -- 1.20: the team reaches 3.00
spend("ana", "chat", 1000)    -- the team budget is spent
spend("carl", "chat", 150000) -- 1.50, outside the team: org 4.50
spend("carl", "images", 20)   -- 0.80 more: past the org's 5
budgets()
engine:reset_customer_cap("research", "team_budget")
print("research's budget reset")
spend("ana", "chat", 50000)   -- 0.50: the org still has room
budgets()
