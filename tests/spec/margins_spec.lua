-- margins_spec.lua: local margins (docs/engine.md 17) with its worked
-- numbers.
local H = require "helpers"

local RECORDED = [[
policy:
  credits:
    token: {price: {amount: 0.00002}, overhead_cost: 0.000008}
    image:
      pricing_model: tiered
      tiers: [{up_to: 100, price: {amount: 0.04}}, {price: {amount: 0.02}}]
      overhead_cost: 0.01
    fee: {price: {amount: 20}}
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 0, mode: soft}}
        images: {limit: {credit: image, value: 0, mode: soft}}
    paid:
      trial_period: 7days
      entitlements:
        chat: {limit: {credit: token, value: 0, mode: soft}}
        subscription: {limit: {credit: fee, value: 0, mode: soft, resets: true}}
]]

describe("customer_local_margin_breakdown", function()
    it("prices the billable units against the recorded overhead", function()
        local e = H.engine(RECORDED, 0, "c", "p")
        local seen = H.recorder(e, "^meter")
        assert.is_true(e:allow("c", "chat", 12000))
        assert.is_true(e:allow("c", "images", 90))
        assert.is_true(e:allow("c", "images", 20))
        local diffs = {}
        for i, s in ipairs(seen) do diffs[i] = { s.ev.meter.price_diff, s.ev.meter.overhead_diff } end
        assert.are.same({ { 0.24, 0.096 }, { 3.6, 0.9 }, { 0.6, 0.2 } }, diffs)
        local m = e:customer_local_margin_breakdown("c")
        assert.are.equal(4.44, m.revenue)
        assert.are.equal(1.196, m.cost)
        assert.are.equal(73.06, m.margin)
        assert.are.equal(60, m.entitlements.chat.margin)
        assert.are.equal(73.81, m.entitlements.images.margin)
        H.fails("unknown_customer", e:customer_local_margin_breakdown("ghost"))
    end)

    it("counts the plan fee as revenue after the trial", function()
        local e = H.engine(RECORDED, 0, "c", "paid")
        assert.is_true(e:allow("c", "chat", 1000))
        local m = e:customer_local_margin_breakdown("c")
        assert.are.equal(0.02, m.revenue) -- in the trial: no fee
        e:set_time(7 * 86400000)
        m = e:customer_local_margin_breakdown("c")
        assert.are.equal(20, m.entitlements.subscription.revenue)
        assert.are.equal(100, m.entitlements.subscription.margin)
        assert.are.equal(20.02, m.revenue)
    end)
end)

local MODEL = [[
policy:
  credits:
    mb:
      overhead_cost: 0.6
      pricing_model: tiered
      tiers: [{up_to: 5, price: {amount: 0.8}}, {up_to: 10, price: {amount: 0.7}},
              {up_to: 50, price: {amount: 0.6}}, {price: {amount: 0.55}}]
      units: MB
    token: {overhead_cost: 0.000004}
  plans:
    pro:
      entitlements:
        file_storage: {limit: {credit: mb, value: 10MB, mode: soft}}
        tokens: {limit: {credit: token, value: 100000, mode: soft, resets: true, reset_inc: 1day}}
]]

describe("local_margin_breakdown", function()
    it("models usage on a plan, scaling daily limits to the month", function()
        local e = H.engine(MODEL, 0)
        local m = e:local_margin_breakdown("pro", { file_storage = "70MB", tokens = { meter = 100000, limit = 100000 } })
        assert.are.same({ revenue = 37, cost = 42, margin = -13.51 }, m.entitlements.file_storage)
        assert.are.same({ revenue = 0, cost = 12 }, m.entitlements.tokens)
        assert.are.equal(37, m.revenue)
        assert.are.equal(54, m.cost)
        assert.are.equal(-45.95, m.margin)
        local unscaled = e:local_margin_breakdown("pro", { tokens = 100000 }, { scaled = false })
        assert.are.equal(0.4, unscaled.cost)
        assert.are.equal(-100, unscaled.margin)
    end)

    it("refuses what it cannot model", function()
        local e = H.engine(MODEL, 0)
        H.fails("unknown_plan", e:local_margin_breakdown("nope", {}))
        H.fails("invalid_argument", e:local_margin_breakdown("pro", { nope = 1 }))
        H.fails("invalid_argument", e:local_margin_breakdown("pro", { tokens = "ten" }))
        H.fails("invalid_argument", e:local_margin_breakdown("pro", { tokens = { value = 1, credit = "x" } }))
        assert.has_error(function() e:local_margin_breakdown("pro", {}, { scaled = 1 }) end)
    end)
end)

describe("local_margin_breakdown at the edges", function()
    it("refuses negative amounts and unknown fields", function()
        local e = H.engine(MODEL, 0)
        H.fails("invalid_argument", e:local_margin_breakdown("pro", { tokens = { value = 10, overhead = -5 } }))
        H.fails("invalid_argument", e:local_margin_breakdown("pro", { tokens = { value = 10, limit = -100 } }))
        local err = H.fails("invalid_argument", e:local_margin_breakdown("pro", { tokens = { value = 10, ovrehead = 9 } }))
        assert.is_truthy(err:find("unknown field 'ovrehead'", 1, true), err)
    end)
end)
