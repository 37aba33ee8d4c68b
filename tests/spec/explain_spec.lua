-- explain() (docs/engine.md section 9, 4, 14.7): the deciding gate, the reads
-- it reports and retry_after, writing and firing nothing.
local H = require "helpers"

local POLICY = [[
policy:
  credits:
    request: {}
    seat: {}
    data: {units: MB}
  plans:
    p:
      entitlements:
        api: {limit: {credit: request, value: 100, resets: true, reset_inc: 1day}}
        seats: {limit: {credit: seat, value: 5}}
        trailing: {limit: {credit: seat, value: 5, hard_trailing: true}}
        chat: {limit: {credit: request, mode: soft, value: 10}}
        watch: {limit: {credit: request, mode: observe, value: 10}}
        org_seats: {scope: org, limit: {credit: seat, value: 2}}
        gov:
          limit: {credit: request, value: 1000, resets: true, reset_inc: 1day, governor_enabled: true,
                  governor_capacity: 100, governor_refill_rate: 0.01}
        disk: {limit: {credit: data, value: 1GB}}
        flag: {}
]]

local DAY = 86400000
local T0 = 1767225600000

local function engine()
    return H.engine(POLICY, T0, "c", "p")
end

describe("explain", function()
    it("reports an allowed call with gate none", function()
        local e = engine()
        e:allow("c", "api", 30)
        e:advance(1000)
        assert.are.same({ allowed = true, gate = "none", limit = 100, value = 30, remaining = 70,
                          reset = T0 + DAY }, e:explain("c", "api", 70))
        local x = e:explain("c", "api")
        assert.is_true(x.allowed)
        assert.are.equal("none", x.gate)
        assert.is_nil(x.reason)
        assert.is_nil(x.retry_after)
    end)

    it("reports a limit denial with retry_after until the reset", function()
        local e = engine()
        e:allow("c", "api", 90)
        e:advance(1000)
        assert.are.same({ allowed = false, gate = "limit", reason = "limit", limit = 100, value = 90,
                          remaining = 10, reset = T0 + DAY, retry_after = DAY - 1000 }, e:explain("c", "api", 20))
        local x = e:explain("c", "api", 100)
        assert.are.equal(DAY - 1000, x.retry_after) -- requested <= limit
        x = e:explain("c", "api", 101)
        assert.is_false(x.allowed)
        assert.are.equal("limit", x.gate)
        assert.is_nil(x.retry_after) -- more than the limit: never
    end)

    it("gives no retry_after for a limit that does not reset", function()
        local e = engine()
        e:allow("c", "seats", 5)
        assert.are.same({ allowed = false, gate = "limit", reason = "limit", limit = 5, value = 5, remaining = 0 },
            e:explain("c", "seats", 1))
    end)

    it("follows hard_trailing, soft and observe", function()
        local e = engine()
        e:allow("c", "trailing", 4)
        assert.is_true(e:explain("c", "trailing", 50).allowed)
        e:allow("c", "trailing", 50)
        local x = e:explain("c", "trailing", 1)
        assert.are.equal("limit", x.gate)
        assert.are.equal(-49, x.remaining)
        assert.are.equal(54, x.value)
        x = e:explain("c", "trailing", -1)
        assert.is_true(x.allowed)
        assert.are.equal("none", x.gate)
        e:allow("c", "chat", 15)
        x = e:explain("c", "chat", 100)
        assert.is_true(x.allowed)
        assert.are.equal("none", x.gate)
        assert.are.equal(-5, x.remaining)
        x = e:explain("c", "watch", 1e9)
        assert.is_true(x.allowed)
        assert.are.equal("none", x.gate)
        assert.is_nil(x.limit)
        assert.is_nil(x.remaining)
        assert.are.equal(0, x.value)
    end)

    it("reports the governor with retry_after from the refill rate", function()
        local e = engine()
        assert.is_true(e:allow("c", "gov", 80))
        local x = e:explain("c", "gov", 50)
        assert.are.same({ allowed = false, gate = "governor", reason = "governor", limit = 1000, value = 80,
                          remaining = 920, reset = T0 + DAY, retry_after = 3000 }, x) -- (50 - 20) / 0.01
        assert.are.equal(1, e:explain("c", "gov", 20.001).retry_after) -- ceil(0.1)
        assert.is_nil(e:explain("c", "gov", 101).retry_after) -- more than capacity
        e:advance(1500)
        x = e:explain("c", "gov", 50)
        assert.are.equal(1500, x.retry_after) -- refilled to 35 without writing
        assert.are.equal(35, e:allowance("c", "gov"))
    end)

    it("names the gate of each early denial", function()
        local e = engine()
        local x = e:explain("nobody", "api", 1)
        assert.is_false(x.allowed)
        assert.are.equal("customer", x.gate)
        assert.are.equal("unknown_customer", x.reason)
        assert.is_nil(x.limit)
        assert.is_nil(x.value)
        assert.is_nil(x.retry_after)
        x = e:explain("c", "nope", 1)
        assert.are.equal("entitlement", x.gate)
        assert.are.equal("unknown_entitlement", x.reason)
        x = e:explain("c", "org_seats", 1)
        assert.are.equal("scope", x.gate)
        assert.are.equal("no_scope_customer", x.reason)
        assert.is_nil(x.value)
        x = e:explain("c", "api", "ten")
        assert.are.equal("value", x.gate)
        assert.are.equal("invalid_value", x.reason)
        assert.is_false(x.allowed)
        x = e:explain("c", "disk", "1h")
        assert.are.equal("value", x.gate)
        assert.are.equal("invalid_value", x.reason)
        x = e:explain("c", "api", 0 / 0)
        assert.are.equal("value", x.gate)
        x = e:explain("nobody", "api", "ten") -- a bad value is caught before any gate
        assert.are.equal("value", x.gate)
    end)

    it("reports no_plan at gate customer", function()
        local e = H.engine("policy: {credits: {r: {}}, plans: {a: {entitlements: " ..
                           "{api: {limit: {credit: r, value: 1}}}}}}")
        e:create_customer("o", "a", { type = "org" })
        e:create_customer("u", nil, { refs = { "o" } })
        assert.is_true(e:delete_customer("o"))
        assert.are.same({ false, "no_plan" }, { e:allow("u", "api", 1) })
        local x = e:explain("u", "api", 1)
        assert.is_false(x.allowed)
        assert.are.equal("customer", x.gate)
        assert.are.equal("no_plan", x.reason)
        assert.is_nil(e:value("u", "api"))
    end)

    it("reports a flag with gate flag", function()
        local e = engine()
        local x = e:explain("c", "flag", 1e9)
        assert.is_true(x.allowed)
        assert.are.equal("flag", x.gate)
        assert.is_nil(x.reason)
        assert.is_nil(x.limit)
        assert.is_nil(x.remaining)
        assert.is_nil(x.reset)
        assert.are.equal(0, x.value)
    end)

    it("converts unit strings like allow", function()
        local e = engine()
        local x = e:explain("c", "disk", "1GB")
        assert.is_true(x.allowed)
        assert.are.equal(1000, x.limit)
        x = e:explain("c", "disk", "1001 MB")
        assert.are.equal("limit", x.gate)
        assert.is_nil(x.retry_after)
    end)

    it("agrees with check and writes and fires nothing", function()
        local e = engine()
        local count = 0
        e:on("*", function() count = count + 1 end)
        e:allow("c", "api", 99, { event = false })
        e:allow("c", "gov", 100, { event = false })
        for _, case in ipairs({ { "api", 1 }, { "api", 2 }, { "gov", 1 }, { "seats", 6 }, { "chat", 50 },
                                { "flag", 1 }, { "nope", 1 }, { "org_seats", 1 } }) do
            local ok = e:check("c", case[1], case[2])
            assert.are.equal(ok, e:explain("c", case[1], case[2]).allowed, case[1])
        end
        assert.are.equal(0, count)
        assert.are.equal(99, e:value("c", "api"))
        assert.are.equal(0, e:allowance("c", "gov"))
        -- a pending roll-over is seen, not persisted
        e:set_time(T0 + DAY)
        local x = e:explain("c", "api", 100)
        assert.is_true(x.allowed)
        assert.are.equal(0, x.value)
        assert.are.equal(T0 + 2 * DAY, x.reset)
        assert.is_true(e:explain("c", "gov", 100).allowed) -- a full bucket
        local resets = 0
        e:on("meter-reset", function() resets = resets + 1 end)
        e:allow("c", "api", 1)
        assert.are.equal(1, resets)
    end)

    it("ignores an expired override without removing it", function()
        local e = engine()
        e:create_customer_override("c", "seats", { value = 50, expires = T0 + 1000 })
        assert.are.equal(50, e:explain("c", "seats", 1).limit)
        e:set_time(T0 + 1000)
        assert.are.equal(5, e:explain("c", "seats", 1).limit)
        assert.are.equal("limit", e:explain("c", "seats", 6).gate)
    end)

    it("raises on wrong argument types", function()
        local e = engine()
        assert.has_error(function() e:explain("c", "api", {}) end)
        assert.has_error(function() e:explain("c", "api", true) end)
        assert.has_error(function() e:explain(nil, "api", 1) end)
    end)
end)
