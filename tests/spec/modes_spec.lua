-- Limit modes (docs/engine.md sections 3, 4; docs/policy.md section 6): hard, soft,
-- observe, hard_trailing, minimum, force, feature flags, and the load-time
-- rules between mode fields (docs/policy.md section 13).
local H = require "helpers"

local POLICY = [[
policy:
  credits:
    ai_token: {}
    seat: {}
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: ai_token, mode: soft, value: 1000}}
        chat_hard: {limit: {credit: ai_token, value: 1000}}
        seats: {limit: {credit: seat, value: 5, hard_trailing: true}}
        watch: {limit: {credit: ai_token, mode: observe, value: 100}}
        counter: {limit: {credit: seat, value: 3, minimum: 0}}
        floor2: {limit: {credit: seat, value: 10, minimum: 2}}
        capped: {limit: {credit: seat, value: 10}}
        flag: {}
]]

local function engine()
    return H.engine(POLICY, 1700000000000)
end

local recorder, names = H.recorder, H.names

describe("soft mode (docs/engine.md 13.2)", function()
    it("allows past the limit and reports overage with meter-overage", function()
        local e = engine()
        e:create_customer("c", "p")
        assert.is_true(e:allow("c", "chat", 990, { event = false }))
        local seen = recorder(e)
        assert.is_true(e:allow("c", "chat", 30))
        assert.are.same({ "meter-overage" }, names(seen))
        local ev = seen[1].ev
        assert.are.same({ old = 990, value = 1020, limit = 1000, diff = 30, overhead = 0, overhead_diff = 0 },
            ev.meter)
        assert.are.equal(20, ev.overage)
        assert.are.equal(-20, ev.remaining)
        assert.is_nil(ev.grant_value_applied)
        assert.are.equal("c", ev.customer.id)
        assert.are.equal(1020, ev.customer.meters.chat.value)
        assert.are.equal("chat", ev.entitlement)
        assert.are.equal("p", ev.plan)
        assert.are.equal(-20, e:remaining("c", "chat"))

        assert.is_true(e:allow("c", "chat", 10))
        assert.are.same({ "meter-overage", "meter-overage" }, names(seen))
        ev = seen[2].ev
        assert.are.same({ old = 1020, value = 1030, limit = 1000, diff = 10, overhead = 0, overhead_diff = 0 },
            ev.meter)
        assert.are.equal(10, ev.overage)
        assert.are.equal(-30, ev.remaining)
        assert.are.equal(-30, e:remaining("c", "chat"))
        assert.are.equal(0, e:remaining("c", "chat", { percent = true })) -- max(0, r) / limit
        assert.are.equal(100, e:value("c", "chat", { percent = true }))
        -- percentages are rounded to 9 decimals like every number read
        e:create_customer("third", "p")
        assert.is_true(e:allow("third", "chat", 1000 / 3))
        assert.are.equal(33.333333333, e:value("third", "chat", { percent = true }))
        assert.are.equal(66.666666667, e:remaining("third", "chat", { percent = true }))
        assert.are.equal(1030, e:value("c", "chat"))
        assert.are.equal(1000, e:limit("c", "chat"))
    end)

    it("fires meter-changed, not meter-overage, while the call stays within the limit", function()
        local e = engine()
        e:create_customer("c", "p")
        local seen = recorder(e)
        assert.is_true(e:allow("c", "chat", 1000))
        assert.are.same({ "meter-changed" }, names(seen))
        assert.is_nil(seen[1].ev.overage)
        assert.are.equal(0, seen[1].ev.remaining)
        assert.is_true(e:check("c", "chat", 1e6)) -- soft never denies on its own
    end)

    it("counts only the part past the limit as overage", function()
        local e = engine()
        e:create_customer("c", "p")
        e:allow("c", "chat", 995)
        local seen = recorder(e)
        e:allow("c", "chat", 7.5)
        assert.are.equal(2.5, seen[1].ev.overage)
        assert.are.equal(-2.5, seen[1].ev.remaining)
    end)

    it("in hard mode the same call is denied with invalid_value 1020", function()
        local e = engine()
        e:create_customer("c", "p")
        e:allow("c", "chat_hard", 990)
        local seen = recorder(e)
        assert.are.same({ false, "limit" }, { e:allow("c", "chat_hard", 30) })
        assert.are.same({ "meter-limit" }, names(seen))
        local ev = seen[1].ev
        assert.are.equal(1020, ev.invalid_value)
        assert.are.equal(20, ev.overage)
        assert.are.equal("limit", ev.reason)
        assert.are.same({ value = 990, limit = 1000, diff = 30, invalid = 1020, overhead = 0, overhead_diff = 0 },
            ev.meter)
        assert.is_nil(ev.remaining)
        assert.are.equal(990, e:value("c", "chat_hard"))
    end)
end)

describe("hard_trailing (docs/engine.md 13.3)", function()
    it("lets one call cross the limit, then denies every increase", function()
        local e = engine()
        e:create_customer("c", "p")
        local seen = recorder(e)
        assert.is_true(e:allow("c", "seats", 5))
        assert.are.equal(5, e:value("c", "seats"))
        assert.are.same({ false, "limit" }, { e:increment("c", "seats") })
        assert.are.equal("meter-limit", seen[2].name)
        assert.are.equal(6, seen[2].ev.invalid_value)
        assert.are.equal(1, seen[2].ev.overage)
        assert.is_true(e:allow("c", "seats", -1))
        assert.are.equal(4, e:value("c", "seats"))
        assert.is_true(e:check("c", "seats", 3))
        assert.is_true(e:allow("c", "seats", 3))
        assert.are.equal(7, e:value("c", "seats"))
        local ev = seen[4].ev
        assert.are.equal("meter-changed", seen[4].name) -- plain usage, no overage
        assert.are.same({ old = 4, value = 7, limit = 5, diff = 3, overhead = 0, overhead_diff = 0 }, ev.meter)
        assert.are.equal(-2, ev.remaining)
        assert.is_nil(ev.overage)
        assert.are.equal(-2, e:remaining("c", "seats"))
        assert.are.same({ false, "limit" }, { e:check("c", "seats", 1) })
        assert.are.same({ false, "limit" }, { e:increment("c", "seats") })
        assert.are.equal(8, seen[5].ev.invalid_value)
        assert.are.equal(1, seen[5].ev.overage) -- invalid - max(value, limit)
        assert.are.equal(5, #seen)
        assert.are.equal(7, e:value("c", "seats"))
        assert.is_true(e:allow("c", "seats", -3)) -- decreases always fit
        assert.are.equal(4, e:value("c", "seats"))
        assert.is_true(e:allow("c", "seats", 100)) -- 4 < 5: may cross again
        assert.are.equal(104, e:value("c", "seats"))
    end)
end)

describe("observe mode", function()
    it("never denies and has no limit, remaining or percent", function()
        local e = engine()
        e:create_customer("c", "p")
        local seen = recorder(e)
        assert.is_true(e:allow("c", "watch", 150))
        assert.is_true(e:allow("c", "watch", 1e9))
        assert.is_true(e:check("c", "watch", 1e12))
        assert.are.equal(1000000150, e:value("c", "watch"))
        assert.is_nil(e:remaining("c", "watch"))
        assert.is_nil(e:limit("c", "watch"))
        assert.is_nil(e:value("c", "watch", { percent = true }))
        assert.is_nil(e:remaining("c", "watch", { percent = true }))
        assert.is_nil(e:allowance("c", "watch"))
        assert.is_nil(e:projected_exhaustion("c", "watch"))
        assert.are.same({ "meter-changed", "meter-changed" }, names(seen))
        assert.is_nil(seen[2].ev.overage)
    end)
end)

describe("minimum", function()
    it("floors the meter; a decrement at the minimum returns true and fires nothing", function()
        local e = engine()
        e:create_customer("c", "p")
        local seen = recorder(e)
        assert.is_true(e:increment("c", "counter"))
        assert.is_true(e:increment("c", "counter"))
        assert.is_true(e:allow("c", "counter", -5))
        assert.are.equal(0, e:value("c", "counter"))
        assert.are.equal("meter-changed", seen[3].name)
        assert.are.equal(2, seen[3].ev.meter.old)
        assert.are.equal(0, seen[3].ev.meter.value)
        assert.are.equal(-5, seen[3].ev.meter.diff)
        assert.are.equal(3, #seen)
        assert.is_true(e:decrement("c", "counter"))
        assert.is_true(e:decrement("c", "counter"))
        assert.are.equal(0, e:value("c", "counter"))
        assert.are.equal(3, e:remaining("c", "counter"))
        assert.are.equal(3, #seen) -- no event for a no-op commit
        assert.is_true(e:increment("c", "counter"))
        assert.are.equal(1, e:value("c", "counter"))
    end)

    it("raises a commit below the floor to the minimum", function()
        local e = engine()
        e:create_customer("c", "p")
        local seen = recorder(e)
        assert.is_true(e:allow("c", "floor2", 1))
        assert.are.equal(2, e:value("c", "floor2"))
        assert.are.same({ old = 0, value = 2, limit = 10, diff = 1, overhead = 0, overhead_diff = 0 },
            seen[1].ev.meter)
        assert.is_true(e:allow("c", "floor2", 5))
        assert.are.equal(7, e:value("c", "floor2"))
        assert.is_true(e:allow("c", "floor2", -100))
        assert.are.equal(2, e:value("c", "floor2"))
    end)

    it("lets a value go negative without a minimum", function()
        local e = engine()
        e:create_customer("c", "p")
        assert.is_true(e:allow("c", "capped", -4))
        assert.are.equal(-4, e:value("c", "capped"))
        assert.are.equal(14, e:remaining("c", "capped"))
        assert.is_true(e:allow("c", "capped", 14))
        assert.are.same({ false, "limit" }, { e:allow("c", "capped", 0.5) })
    end)
end)

describe("force", function()
    it("commits past a hard limit like soft, with meter-overage", function()
        local e = engine()
        e:create_customer("c", "p")
        e:allow("c", "capped", 8)
        local seen = recorder(e)
        assert.are.same({ false, "limit" }, { e:check("c", "capped", 5) })
        assert.is_true(e:allow("c", "capped", 5, { force = true }))
        assert.are.same({ "meter-overage" }, names(seen))
        local ev = seen[1].ev
        assert.are.same({ old = 8, value = 13, limit = 10, diff = 5, overhead = 0, overhead_diff = 0 }, ev.meter)
        assert.are.equal(3, ev.overage)
        assert.are.equal(-3, ev.remaining)
        assert.are.equal(13, e:value("c", "capped"))
        assert.are.equal(-3, e:remaining("c", "capped"))
    end)

    it("is plain usage (meter-changed) while it fits", function()
        local e = engine()
        e:create_customer("c", "p")
        local seen = recorder(e)
        assert.is_true(e:allow("c", "capped", 4, { force = true }))
        assert.are.same({ "meter-changed" }, names(seen))
    end)

    it("still applies gates 1-3", function()
        local e = engine()
        e:create_customer("c", "p")
        local seen = recorder(e)
        assert.are.same({ false, "unknown_customer" }, { e:allow("x", "capped", 5, { force = true }) })
        assert.are.same({ false, "unknown_entitlement" }, { e:allow("c", "nope", 5, { force = true }) })
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "capped", "ten", { force = true }) })
        assert.are.equal(0, #seen)
    end)
end)

describe("feature flags", function()
    it("answer true for any value, meter nothing and fire nothing", function()
        local e = engine()
        e:create_customer("c", "p")
        local seen = recorder(e)
        assert.is_true(e:allow("c", "flag", 1e15))
        assert.is_true(e:allow("c", "flag", -3))
        assert.is_true(e:allow("c", "flag"))
        assert.is_true(e:check("c", "flag", 7))
        assert.are.same({ false, "not_metered" }, { e:increment("c", "flag") })
        assert.are.same({ false, "not_metered" }, { e:decrement("c", "flag") })
        assert.are.equal(0, e:value("c", "flag"))
        assert.is_nil(e:limit("c", "flag"))
        assert.is_nil(e:remaining("c", "flag"))
        assert.is_nil(e:resets("c", "flag"))
        assert.is_nil(e:allowance("c", "flag"))
        assert.is_nil(e:customer("c").meters.flag)
        assert.are.equal(0, #seen)
        -- a bad value is caught before any gate, the flag's included (docs/engine.md 14.7)
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "flag", "ten") })
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "flag", 0 / 0) })
    end)
end)

describe("hard limits", function()
    it("deny a call that does not fit, leave the meter, and allow decreases past the limit", function()
        local e = engine()
        e:create_customer("c", "p")
        assert.is_true(e:allow("c", "capped", 10))
        assert.are.same({ false, "limit" }, { e:allow("c", "capped", 0.000000001) })
        assert.is_true(e:allow("c", "capped", 0)) -- does not raise the value
        assert.are.equal(10, e:value("c", "capped"))
        assert.are.equal(100, e:value("c", "capped", { percent = true }))
        assert.are.equal(0, e:remaining("c", "capped", { percent = true }))
        e:allow("c", "capped", -7.5)
        assert.are.equal(25, e:value("c", "capped", { percent = true }))
        assert.are.equal(75, e:remaining("c", "capped", { percent = true }))
    end)
end)

describe("load-time rules between mode fields (docs/policy.md 6, 13)", function()
    local function load(limit)
        return H.load_limit(limit, "{tok: {}}")
    end

    it("hard_trailing requires mode 'hard'", function()
        local e, err = load("{credit: tok, value: 10, mode: soft, hard_trailing: true}")
        assert.is_nil(e)
        assert.matches("^plans%.p%.entitlements%.e%.limit: hard_trailing requires mode 'hard' at 7:%d+$", err)
        assert.is_not_nil(load("{credit: tok, value: 10, mode: soft, hard_trailing: false}"))
        assert.is_not_nil(load("{credit: tok, value: 10, hard_trailing: true}"))
    end)

    it("minimum must not exceed a numeric value", function()
        local e, err = load("{credit: tok, value: 10, minimum: 12}")
        assert.is_nil(e)
        assert.matches("^plans%.p%.entitlements%.e%.limit: minimum 12 is above value 10 at 7:%d+$", err)
        assert.is_not_nil(load("{credit: tok, value: 10, minimum: 10}"))
        assert.is_not_nil(load("{credit: tok, value: 10, minimum: -5}"))
    end)

    it("a governor requires mode 'hard'", function()
        local e, err = load("{credit: tok, value: 10, mode: soft, governor_enabled: true, " ..
                            "governor_capacity: 5, governor_refill_rate: 1}")
        assert.is_nil(e)
        assert.matches("^plans%.p%.entitlements%.e%.limit: governor requires mode 'hard' at 7:%d+$", err)
        -- without governor_enabled the two sizes are ignored
        assert.is_not_nil(load("{credit: tok, value: 10, mode: soft, governor_capacity: 5, " ..
                               "governor_refill_rate: 1}"))
    end)

    it("rejects an unknown mode with a suggestion", function()
        local _, err = load("{credit: tok, value: 10, mode: sotf}")
        assert.are.equal("plans.p.entitlements.e.limit.mode: unknown mode 'sotf' (did you mean 'soft'?) at 7:49", err)
    end)

    it("rejects range errors of value and increment", function()
        local _, err = load("{credit: tok, value: -1}")
        assert.are.equal("plans.p.entitlements.e.limit.value: must not be negative, got -1 at 7:39", err)
        _, err = load("{credit: tok, increment: 0}")
        assert.are.equal("plans.p.entitlements.e.limit.increment: must be greater than 0, got 0 at 7:43", err)
    end)

    it("refuses upstream's override_expires_on in a document", function()
        local _, err = load("{credit: tok, override_expires_on: 5}")
        assert.are.equal(
            "plans.p.entitlements.e.limit.override_expires_on: not supported in a limitr policy at 7:32", err)
    end)
end)
