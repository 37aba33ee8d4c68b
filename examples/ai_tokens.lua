-- Meters AI chat tokens against examples/ai_tokens.yaml: the provider cost
-- of each call comes from the per-model cost function, and the quota runs
-- over only for the customer whose contract allows it.
local limitr = require "limitr"

local dir = (arg and arg[0] or ""):match("^(.*)/") or "."
local engine = assert(limitr.load(dir .. "/ai_tokens.yaml"))
engine:set_time(1767225600000) -- 2026-01-01T00:00Z, so the output is fixed

local function model_of(event)
    return event.event_data and event.event_data.model or "?"
end

engine:on("meter-changed", function(event)
    print(("%-8s %-6s %6d tokens, cost %.4f runes"):format(event.customer.id,
        model_of(event), event.meter.diff, event.meter.overhead_diff))
end)
engine:on("meter-overage", function(event)
    print(("%-8s bill %d tokens of overage"):format(event.customer.id, event.overage))
end)
engine:on("meter-limit", function(event)
    print(("%-8s denied: %s"):format(event.customer.id, event.reason))
end)

engine:create_customer("startup")
engine:create_customer("bigco", nil, { metadata = { overage_allowed = true, overage_cap = 20000 } })

for _, who in ipairs({ "startup", "bigco" }) do
    engine:allow(who, "chat", 90000, { event = { model = "sonnet", input = 80000, output = 10000 } })
    engine:allow(who, "chat", 15000, { event = { model = "haiku", input = 14000, output = 1000 } })
end
engine:allow("bigco", "chat", 30000, { event = { model = "haiku", input = 30000, output = 0 } })

local why = engine:explain("startup", "chat", 15000)
print(("startup  explain: gate %s, reason %q, retry after %d s"):format(
    why.gate, why.reason, math.floor((why.retry_after or 0) / 1000)))
