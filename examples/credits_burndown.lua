-- Prepaid credits spent by several features (examples/credits_burndown.yaml):
-- the included monthly grant pays for tokens and storage through the
-- exchange, a bought top-up adds to it and expires, and the next month
-- refills the included grant.
local limitr = require "limitr"

local dir = (arg and arg[0] or ""):match("^(.*)/") or "."
local engine = assert(limitr.load(dir .. "/credits_burndown.yaml"))
local DAY = 86400000
engine:set_time(1767225600000) -- 2026-01-01T00:00Z, so the output is fixed

local function balance(when)
    print(("%-28s %7.4f credits left"):format(when, engine:credit_remaining("acme", "credit")))
end

engine:on("meter-changed", function(ev)
    print(("  %-10s %8d units, %8d paid by grants"):format(ev.entitlement,
        ev.meter.diff, ev.grant_value_applied or 0))
end)
engine:on("meter-limit", function(ev)
    print(("  %-10s denied: %s more than the credits cover"):format(ev.entitlement,
        tostring(ev.overage)))
end)
engine:on("customer-topup-granted", function(ev)
    print(("  bought %s: %s"):format(ev.topup_name, ev.topup.description))
end)

engine:create_customer("acme")
balance("created (10 included)")
engine:allow("acme", "ai_input", 1000000) -- 4 credits
engine:allow("acme", "ai_output", 100000) -- 2 credits
engine:allow("acme", "storage", "300MB") -- 3 credits
balance("after a day of work")
engine:allow("acme", "ai_output", 100000) -- 2 credits: only 1 is left
engine:apply_customer_topup("acme", "boost") -- the host took the payment
balance("after buying a boost")
engine:allow("acme", "ai_output", 100000)
balance("after the retry")
engine:set_time(1767225600000 + 30 * DAY)
balance("next month (10 + boost's 3)")
engine:set_time(1767225600000 + 31 * DAY) -- the boost has expired
for _, g in ipairs(engine:customer("acme").grants) do
    print(("  grant %-10s %s: %s left"):format(g.id, g.credit, tostring(g.value)))
end
