-- estimates_spec.lua: learned estimates (docs/engine.md 18) with its worked
-- numbers.
local limitr = require "limitr"
local H = require "helpers"

local POLICY = [[
policy:
  credits:
    token: {overhead_cost: 0.001}
  estimate_min_samples: 5
  estimates:
    seeded:
      all: {samples: 10, value_mean: 50, value_var: 4, overhead_mean: 0.05}
  plans:
    p:
      default: true
      entitlements:
        chat:
          estimate_basis: input
          estimate_segment: model
          limit: {credit: token, value: 1e12}
        plain: {limit: {credit: token, value: 1e12}}
        seeded: {limit: {credit: token, value: 1e12}}
]]

describe("observe and estimate", function()
    it("learn a mean and a variance (8, 10, 12, 10 -> 10 and 2)", function()
        local e = H.engine(POLICY, 0, "a", "p")
        for _, v in ipairs({ 8, 10, 12, 10 }) do assert.is_true(e:observe("a", "plain", v)) end
        local x = e:estimate("x", "plain", { quantile = 0.5 }) -- no customer: policy-wide
        assert.are.same({ value = 10, overhead = 0.01, samples = 4, source = "local", scope = "policy" }, x)
        assert.are.equal(11.812387605, e:estimate("x", "plain").value) -- 10 + z(0.9) * sqrt 2
    end)

    it("keep a constant size exact with no variance, then learn a new size", function()
        local e = H.engine(POLICY, 0, "a", "p")
        for _ = 1, 5 do assert.is_true(e:observe("a", "plain", 5, { overhead = 0 })) end
        assert.are.same({ value = 5, overhead = 0, samples = 5, source = "local", scope = "customer" },
            e:estimate("a", "plain")) -- q = 0.9: no variance, the mean itself
        -- n = 6: w = 1/6, d = 10; mean 5 + 10/6, variance 5/6 * (1/6 * 100)
        assert.is_true(e:observe("a", "plain", 15, { overhead = 0.6 }))
        local x = e:estimate("a", "plain", { quantile = 0.5 })
        assert.are.equal(6.666666667, x.value)
        assert.are.equal(0.1, x.overhead)
        local z9 = 1.2815515655446004
        assert.is_true(math.abs(e:estimate("a", "plain").value - (20 / 3 + z9 * math.sqrt(125 / 9))) < 1e-8)
    end)

    it("learn per unit of basis, from the event's field, per segment", function()
        local e = H.engine(POLICY, 0, "a", "p")
        assert.is_true(e:observe("a", "chat", 300, { event = { input = 100, model = "gpt.4 mini" } }))
        assert.is_true(e:observe("a", "chat", 600, { basis = 200, segment = "gpt.4 mini" }))
        local x = e:estimate("x", "chat", { quantile = 0.5, basis = 1000, segment = "gpt_4_mini" })
        assert.are.equal(3000, x.value)
        assert.are.same({ false, "no_basis" }, { e:observe("a", "chat", 5, { segment = "gpt.4 mini" }) })
        H.fails("no_estimate", e:estimate("x", "chat", { quantile = 0.5, segment = "other" }))
    end)

    it("prefer the customer's own estimate from estimate_min_samples on", function()
        local e = H.engine(POLICY, 0, "a", "p")
        assert(e:create_customer("b"))
        for _ = 1, 20 do assert.is_true(e:observe("b", "plain", 50)) end
        for _ = 1, 4 do assert.is_true(e:observe("a", "plain", 300)) end
        assert.are.equal("policy", e:estimate("a", "plain", { quantile = 0.5 }).scope)
        assert.is_true(e:observe("a", "plain", 300))
        local mine = e:estimate("a", "plain", { quantile = 0.5 })
        assert.are.equal("customer", mine.scope)
        assert.are.equal(300, mine.value)
        assert.is_true(e:estimate("b", "plain", { quantile = 0.5 }).value < 300)
    end)

    it("start from the policy's seeds", function()
        local e = H.engine(POLICY, 0, "a", "p")
        local x = e:estimate("a", "seeded", { quantile = 0.5 })
        assert.are.same({ value = 50, overhead = 0.05, samples = 10, source = "cloud", scope = "policy" }, x)
    end)

    it("keep at most 1024 estimates: the next segment is refused, nothing learned", function()
        local e = H.engine(POLICY, 0, "a", "p")
        -- the policy's seeded estimate is one of the policy-wide 1024
        for i = 1, 1023 do assert.is_true(e:observe("a", "plain", 1, { segment = "s" .. i })) end
        local before = e:export()
        H.fails("estimates_full", e:observe("a", "plain", 1, { segment = "s1024" }))
        assert.equal(before, e:export())
        assert.is_true(e:observe("a", "plain", 1, { segment = "s1" })) -- a kept one learns
    end)

    it("refuse bad input", function()
        local e = H.engine(POLICY, 0, "a", "p")
        assert.are.same({ false, "unknown_customer" }, { e:observe("ghost", "plain", 1) })
        H.fails("invalid_argument", e:estimate("a", "plain", { quantile = 2 }))
        H.fails("invalid_argument", e:observe("a", "plain", 1, { basis = "big" }))
        assert.are.same({ false, "invalid_value" }, { e:observe("a", "plain", "x") })
        assert.has_error(function() e:observe("a", "plain", {}) end)
        local _, err = limitr.new([[
policy:
  estimate_min_samples: 0
  estimates: {e: {all: {alpha: 3, samples: -1, colour: 1}}}
]])
        for _, want in ipairs({ "estimate_min_samples: must be a whole number >= 1",
            "estimates.e.all.alpha: must be in (0, 1]", "estimates.e.all.samples",
            "estimates.e.all: unknown field 'colour'" }) do
            assert.is_truthy(err:find(want, 1, true), want .. " in " .. err)
        end
    end)
end)

describe("estimates at the edges", function()
    it("give no per-basis estimate for a basis <= 0, and learn all or nothing", function()
        local e = H.engine(POLICY, 0, "a", "p")
        assert.is_true(e:observe("a", "chat", 300, { basis = 100 }))
        H.fails("no_estimate", e:estimate("x", "chat", { basis = -1000 }))
        assert.is_true(e:observe("a", "plain", 1))
        assert.are.same({ false, "invalid_value" }, { e:observe("a", "plain", 3, { overhead = 2e19 }) })
        assert.are.equal(1, e:estimate("x", "plain", { quantile = 0.5 }).value)
        assert.are.equal(1, e:estimate("x", "plain").samples)
    end)
end)
