-- plans_spec.lua: plan reads at run time and the plan fee (docs/engine.md
-- 14.14; docs/policy.md 4: period, subscription, trial_period).
local limitr = require "limitr"
local H = require "helpers"

local DAY = 86400000

local POLICY = [[
policy:
  credits:
    fee: {price: {amount: 20}}
    token: {}
  plans:
    base:
      label: Base
      period: monthly
      trial_period: 14days
      entitlements:
        subscription: {limit: {credit: fee, value: 0, mode: soft, resets: true, reset_inc: 30days}}
        chat: {limit: {credit: token, value: 100}}
      topups:
        pack: {credit: token, value: 10}
    pro:
      extends: base
      period: yearly
      subscription: pro_fee
      trial_period: 0
      entitlements:
        pro_fee: {limit: {credit: fee, value: 0, mode: soft, resets: true, reset_inc: 365days}}
    free:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 10}}
]]

describe("plan reads", function()
    it("give a plan, or a customer's plan, as a table", function()
        local e = H.engine(POLICY, 0, "c", "pro")
        local p = e:plan("pro")
        assert.are.equal("pro", p.name)
        assert.are.equal("yearly", p.period)
        assert.are.equal("pro_fee", p.subscription)
        assert.are.equal(0, p.trial_period)
        assert.are.equal("base", p.extends)
        assert.are.equal(100, p.entitlements.chat.limit.value)
        assert.are.equal(10, p.topups.pack.value)
        assert.are.equal("pro", e:plan("c").name)
        assert.are.equal("monthly", e:plan("free").period)
        assert.are.equal("subscription", e:plan("free").subscription)
        H.fails("unknown_plan", e:plan("nope"))
        assert.are.equal(14 * DAY, e:plan_trial_period("base"))
        H.fails("no_trial", e:plan_trial_period("free"))
    end)
end)

describe("ensure_plan_subscription", function()
    it("charges nothing during the trial, then the fee once per period", function()
        local e = H.engine(POLICY, 0, "c", "base")
        local seen = H.recorder(e, "^meter")
        assert.is_true(e:ensure_plan_subscription("c"))
        assert.are.equal(0, e:value("c", "subscription"))
        assert.are.equal(0, #seen)
        e:set_time(14 * DAY)
        assert.is_true(e:ensure_plan_subscription("c"))
        assert.are.equal(1, e:value("c", "subscription"))
        assert.are.equal("meter-overage", seen[1].name)
        assert.are.equal(20, seen[1].ev.meter.price_diff)
        assert.is_true(e:ensure_plan_subscription("c")) -- harmless again
        assert.are.equal(1, #seen)
        e:set_time(30 * DAY) -- a new period
        assert.is_true(e:ensure_plan_subscription("c"))
        assert.are.equal(1, e:value("c", "subscription"))
        assert.are.equal(20, seen[#seen].ev.meter.price_diff)
    end)

    it("says why it cannot", function()
        local e = H.engine(POLICY, 0, "c", "free")
        assert.are.same({ false, "no_subscription" }, { e:ensure_plan_subscription("c") })
        assert.are.same({ false, "unknown_customer" }, { e:ensure_plan_subscription("ghost") })
    end)
end)

describe("plan billing fields", function()
    it("are checked", function()
        local _, err = limitr.new([[
policy:
  credits: {t: {}}
  plans:
    a: {period: fortnightly, trial_period: -5}
    b: {trial_period: 1day, entitlements: {x: {limit: {credit: t}}}}
]])
        for _, want in ipairs({ "plans.a.period: unknown period 'fortnightly'",
            "plans.a.trial_period: must not be negative",
            "plans.b.trial_period: plan has no 'subscription' entitlement" }) do
            assert.is_truthy(err:find(want, 1, true), want .. " in " .. err)
        end
    end)
end)

describe("ensure_plan_subscription at the edges", function()
    it("never refunds a fee the meter already holds", function()
        local e = H.engine(POLICY, 14 * DAY, "c", "base")
        assert.is_true(e:allow("c", "subscription", 3))
        assert.is_true(e:ensure_plan_subscription("c"))
        assert.are.equal(3, e:value("c", "subscription"))
    end)

    it("judges the trial on the meter owner of a scoped subscription", function()
        local e = H.engine([[
policy:
  credits: {fee: {price: {amount: 20}}}
  plans:
    team:
      default: true
      trial_period: 10days
      entitlements:
        subscription: {scope: org, limit: {credit: fee, value: 0, mode: soft, resets: true}}
]], 0)
        assert(e:create_customer("acme", nil, { type = "org" }))
        e:set_time(11 * DAY)
        assert(e:create_customer("u2", nil, { refs = { "acme" } }))
        assert.is_true(e:ensure_plan_subscription("u2")) -- acme's trial is over
        assert.are.equal(1, e:value("acme", "subscription"))
        assert.is_true(e:ensure_plan_subscription("u2"))
        assert.are.equal(1, e:value("acme", "subscription"))
    end)
end)
