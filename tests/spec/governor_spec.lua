-- The governor, allowance, rate, acceleration and projected exhaustion
-- (docs/engine.md section 6, 13.5, 14.8, 14.11).
local H = require "helpers"
local limitr = require "limitr"

local POLICY = [[
policy:
  credits:
    ai_token: {}
    request: {}
  plans:
    p:
      entitlements:
        ai_tokens:
          limit: {credit: ai_token, value: 1000000, resets: true, governor_enabled: true,
                  governor_capacity: 50000, governor_refill_rate: 0.5}
        small:
          limit: {credit: ai_token, value: 100, governor_enabled: true, governor_capacity: 40,
                  governor_refill_rate: 0.01}
        daily:
          limit: {credit: ai_token, value: 100, resets: true, reset_inc: 1000000, governor_enabled: true,
                  governor_capacity: 10, governor_refill_rate: 0.001}
        api: {limit: {credit: request, value: 1250}}
        api_daily: {limit: {credit: request, value: 100, resets: true, reset_inc: 10000}}
        watch: {limit: {credit: request, mode: observe, value: 10}}
        scoped_gov:
          scope: org
          limit: {credit: ai_token, value: 100, governor_enabled: true, governor_capacity: 5,
                  governor_refill_rate: 0.001}
    org_plan: {}
]]

local function engine()
    return H.engine(POLICY, 0, "c", "p")
end

local recorder, names = H.recorder, H.names

describe("governor burst, then refill (docs/engine.md 13.5)", function()
    it("gives the exact allowance, tokens, retry_after and payload", function()
        local e = engine()
        e:set_time(1700000000000)
        e:create_customer("c2", "p")
        assert.are.equal(50000, e:allowance("c2", "ai_tokens"))
        assert.is_true(e:allow("c2", "ai_tokens", 30000))
        assert.are.equal(20000, e:allowance("c2", "ai_tokens"))
        local seen = recorder(e)
        assert.are.same({ false, "governor" }, { e:allow("c2", "ai_tokens", 25000) })
        assert.are.same({ "meter-governed" }, names(seen))
        local ev = seen[1].ev
        assert.are.same({ tokens = 20000, capacity = 50000, requested = 25000 }, ev.governor)
        assert.are.same({ value = 30000, limit = 1000000, overhead = 0 }, ev.meter)
        assert.are.equal("c2", ev.customer.id)
        assert.are.equal("ai_tokens", ev.entitlement)
        assert.are.equal("p", ev.plan)
        assert.is_nil(ev.remaining)
        assert.is_nil(ev.overage)
        assert.are.equal(30000, e:value("c2", "ai_tokens")) -- a denial changes nothing
        local x = e:explain("c2", "ai_tokens", 25000)
        assert.is_false(x.allowed)
        assert.are.equal("governor", x.gate)
        assert.are.equal("governor", x.reason)
        assert.are.equal(10000, x.retry_after)

        e:advance(10000)
        assert.are.equal(25000, e:allowance("c2", "ai_tokens"))
        assert.is_true(e:check("c2", "ai_tokens", 25000))
        assert.are.same({ false, "governor" }, { e:check("c2", "ai_tokens", 25001) })
        assert.are.equal(2, e:explain("c2", "ai_tokens", 25001).retry_after) -- ceil(1 / 0.5)
        assert.is_true(e:allow("c2", "ai_tokens", 25000))
        assert.are.equal(0, e:allowance("c2", "ai_tokens"))
        assert.are.equal(55000, e:value("c2", "ai_tokens"))
        assert.are.equal(945000, e:remaining("c2", "ai_tokens"))
        assert.are.equal(1, e:explain("c2", "ai_tokens", 0.5).retry_after)

        e:advance(200000)
        assert.are.equal(50000, e:allowance("c2", "ai_tokens"))
        assert.is_true(e:allow("c2", "ai_tokens", -5000))
        assert.are.equal(50000, e:allowance("c2", "ai_tokens"))
        assert.are.equal(50000, e:value("c2", "ai_tokens"))
        assert.are.same({ false, "governor" }, { e:check("c2", "ai_tokens", 50001) })
        x = e:explain("c2", "ai_tokens", 50001)
        assert.are.equal("governor", x.gate)
        assert.is_nil(x.retry_after) -- more than capacity
        assert.is_true(e:check("c2", "ai_tokens", 50000))
    end)

    it("keeps fractions of tokens", function()
        local e = engine()
        assert.is_true(e:allow("c", "small", 40))
        e:advance(150) -- 1.5 tokens
        assert.are.equal(1.5, e:allowance("c", "small"))
        assert.is_true(e:allow("c", "small", 1.25))
        assert.are.equal(0.25, e:allowance("c", "small"))
        assert.are.equal(75, e:explain("c", "small", 1).retry_after) -- ceil(0.75 / 0.01)
    end)
end)

describe("governor rules (docs/engine.md 6.1, 6.2, 4.4)", function()
    it("takes no tokens for zero or negative values", function()
        local e = engine()
        assert.is_true(e:allow("c", "small", 30))
        assert.is_true(e:allow("c", "small", 0))
        assert.is_true(e:allow("c", "small", -20))
        assert.are.equal(10, e:allowance("c", "small"))
        assert.are.equal(10, e:value("c", "small"))
    end)

    it("allowance is the lesser of tokens and remaining", function()
        local e = engine()
        assert.is_true(e:allow("c", "small", 40))
        e:advance(4000) -- the bucket is full again (40), 60 remain
        assert.are.equal(40, e:allowance("c", "small"))
        assert.is_true(e:allow("c", "small", 40))
        e:advance(4000)
        assert.are.equal(20, e:allowance("c", "small")) -- remaining 20 < 40 tokens
        assert.are.equal(1250, e:allowance("c", "api"))
        assert.is_nil(e:allowance("c", "watch"))
    end)

    it("runs before the limit, and denies with governor even past the limit", function()
        local e = engine()
        assert.are.same({ false, "governor" }, { e:allow("c", "small", 1000) })
        assert.are.equal("governor", e:explain("c", "small", 1000).gate)
        assert.is_nil(e:explain("c", "small", 1000).retry_after)
        assert.is_true(e:allow("c", "small", 40))
        e:advance(1000000)
        assert.is_true(e:allow("c", "small", 40))
        e:advance(1000000)
        assert.are.same({ false, "limit" }, { e:allow("c", "small", 21) }) -- tokens fit, the limit does not
        assert.are.equal(40, e:allowance("c", "small") + 20)
    end)

    it("force skips the governor", function()
        local e = engine()
        assert.is_true(e:allow("c", "small", 40))
        assert.are.same({ false, "governor" }, { e:check("c", "small", 10) })
        assert.is_true(e:allow("c", "small", 10, { force = true }))
        assert.are.equal(50, e:value("c", "small"))
    end)

    it("starts each period with a full bucket", function()
        local e = engine()
        assert.is_true(e:allow("c", "daily", 10))
        assert.are.equal(0, e:allowance("c", "daily"))
        e:set_time(1000000) -- a roll-over is pending: the bucket counts as full
        assert.are.equal(10, e:allowance("c", "daily"))
        assert.is_true(e:check("c", "daily", 10))
        assert.is_true(e:allow("c", "daily", 10))
        assert.are.equal(0, e:allowance("c", "daily"))
    end)

    it("records the refill and the demand on a governed denial, and creates a missing meter", function()
        local e = engine()
        e:create_customer("o", "org_plan", { type = "org" })
        e:create_customer("u", "p", { refs = { "o" } })
        assert.is_nil(e:customer("o").meters.scoped_gov)
        e:set_time(500)
        assert.are.same({ false, "governor" }, { e:allow("u", "scoped_gov", 6) })
        local m = e:customer("o").meters.scoped_gov
        assert.is_not_nil(m)
        assert.are.equal(0, m.value)
        assert.are.equal(500, m.started)
    end)

    it("refills by max(0, elapsed) when time goes backwards (docs/engine.md 14.11)", function()
        local e = engine()
        e:set_time(10000)
        assert.is_true(e:allow("c", "small", 30))
        assert.are.equal(10, e:allowance("c", "small"))
        e:set_time(5000)
        assert.are.equal(10, e:allowance("c", "small"))
        assert.is_true(e:allow("c", "small", 5))
        assert.are.equal(5, e:allowance("c", "small"))
        e:set_time(6000) -- the refill clock is now 5000
        assert.are.equal(15, e:allowance("c", "small"))
        assert.is_true(e:allow("c", "small", 15))
        assert.are.equal(0, e:allowance("c", "small"))
    end)
end)

describe("rate, acceleration, projected exhaustion (docs/engine.md 6.3)", function()
    it("follows the last three history entries", function()
        local e = engine()
        assert.are.equal(0, e:rate("c", "api"))
        assert.are.equal(0, e:acceleration("c", "api"))
        assert.is_nil(e:projected_exhaustion("c", "api"))
        assert.is_true(e:allow("c", "api", 10))
        assert.are.equal(0, e:rate("c", "api")) -- one entry
        assert.is_nil(e:projected_exhaustion("c", "api"))
        e:set_time(1000)
        assert.is_true(e:allow("c", "api", 10))
        assert.are.equal(0.01, e:rate("c", "api"))
        assert.are.equal(0, e:acceleration("c", "api")) -- two entries
        assert.are.equal(1000 + 1230 / 0.01, e:projected_exhaustion("c", "api"))
        assert.are.equal(1000 + 1230 / 0.01, e:projected_exhaustion("c", "api", { smoothed = true }))
        e:set_time(1500)
        assert.is_true(e:allow("c", "api", 30))
        assert.are.equal(0.06, e:rate("c", "api"))
        assert.are.equal(0.05, e:acceleration("c", "api")) -- 0.06 - 0.01, rounded to 9 decimals
        assert.are.equal(1500 + 20000, e:projected_exhaustion("c", "api")) -- 1200 / 0.06
        -- ewma: 0.01, then 0.2 * 0.06 + 0.8 * 0.01 = 0.02
        assert.are.equal(1500 + 60000, e:projected_exhaustion("c", "api", { smoothed = true }))
        e:set_time(2500)
        assert.is_true(e:allow("c", "api", 5))
        assert.are.equal(0.005, e:rate("c", "api"))
        assert.are.equal(-0.055, e:acceleration("c", "api"))
        -- 1195 / 0.005 = 239000; smoothed 0.2 * 0.005 + 0.8 * 0.02 = 0.017
        assert.are.equal(2500 + 239000, e:projected_exhaustion("c", "api"))
        assert.near(2500 + 1195 / 0.017, e:projected_exhaustion("c", "api", { smoothed = true }), 1e-6)
    end)

    it("projects nothing from a rate that reads as 0, nor past the clock's range", function()
        local e = assert(limitr.new([[
policy:
  credits: {t: {}}
  plans:
    p: {default: true, entitlements: {b: {limit: {credit: t, value: 1e15}}}}
]]))
        e:set_time(0)
        assert(e:create_customer("c"))
        assert.is_true(e:allow("c", "b", 1))
        e:set_time(1e12)
        assert.is_true(e:allow("c", "b", 1))
        assert.are.equal(0, e:rate("c", "b")) -- 1e-12 per ms, 0 at 9 decimals
        local none, _, code = e:projected_exhaustion("c", "b")
        assert.is_nil(none)
        assert.are.equal("no_projection", code)
    end)

    it("gives 0 for a zero gap and nil when the rate is not positive or nothing remains", function()
        local e = engine()
        e:set_time(100)
        e:allow("c", "api", 10)
        e:allow("c", "api", 10)
        assert.are.equal(0, e:rate("c", "api")) -- same ms
        assert.is_nil(e:projected_exhaustion("c", "api"))
        e:set_time(200)
        e:allow("c", "api", 0) -- a no-op is still pushed into history
        assert.are.equal(0, e:rate("c", "api"))
        assert.is_nil(e:projected_exhaustion("c", "api"))
        e:set_time(300)
        e:allow("c", "api", -10)
        assert.are.equal(-0.1, e:rate("c", "api"))
        assert.is_nil(e:projected_exhaustion("c", "api"))
        e:set_time(400)
        e:allow("c", "api", 1240)
        assert.are.equal(0, e:remaining("c", "api"))
        assert.is_nil(e:projected_exhaustion("c", "api"))
    end)

    it("gives nil for observe limits and a pending roll-over", function()
        local e = engine()
        e:allow("c", "api_daily", 5)
        e:set_time(1000)
        e:allow("c", "api_daily", 5)
        e:set_time(2000)
        e:allow("c", "api_daily", 10)
        assert.are.equal(0.01, e:rate("c", "api_daily"))
        assert.are.equal(0.005, e:acceleration("c", "api_daily"))
        assert.are.equal(2000 + 8000, e:projected_exhaustion("c", "api_daily"))
        e:allow("c", "watch", 5)
        e:set_time(2010)
        e:allow("c", "watch", 5)
        assert.are.equal(0.5, e:rate("c", "watch"))
        assert.is_nil(e:projected_exhaustion("c", "watch"))
        assert.is_nil(e:projected_exhaustion("c", "watch", { smoothed = true }))
        e:set_time(10000)
        assert.are.equal(0, e:rate("c", "api_daily"))
        assert.are.equal(0, e:acceleration("c", "api_daily"))
        assert.is_nil(e:projected_exhaustion("c", "api_daily"))
        assert.is_nil(e:projected_exhaustion("c", "api_daily", { smoothed = true }))
        -- the roll-over clears history: one entry gives rate 0
        e:allow("c", "api_daily", 1)
        assert.are.equal(0, e:rate("c", "api_daily"))
    end)

    it("counts governed demand in history, not in the EWMA (docs/engine.md 14.8)", function()
        local e = engine()
        e:allow("c", "small", 40)
        e:set_time(100)
        assert.are.same({ false, "governor" }, { e:allow("c", "small", 10) })
        assert.are.equal(0.1, e:rate("c", "small")) -- demand 10 over 100 ms
        e:set_time(200)
        assert.is_true(e:allow("c", "small", 2))
        assert.are.equal(0.02, e:rate("c", "small"))
        assert.are.equal(-0.08, e:acceleration("c", "small")) -- reads are rounded to 9 decimals
        -- the EWMA starts at the first non-zero rate of a commit: 0.02
        assert.are.equal(200 + 58 / 0.02, e:projected_exhaustion("c", "small", { smoothed = true }))
    end)

    it("gives nil reads for unknown customers, entitlements and flags", function()
        local e = engine()
        assert.is_nil(e:rate("nobody", "api"))
        assert.is_nil(e:acceleration("c", "nope"))
        assert.is_nil(e:allowance("nobody", "small"))
        assert.is_nil(e:projected_exhaustion("c", "nope"))
    end)
end)

describe("ewma_alpha (docs/policy.md 6)", function()
    -- Run in a child process: a crash there fails this test, not the file.
    local child = H.child

    local function policy(alpha)
        return ("policy: {credits: {r: {}}, plans: {p: {entitlements: {api: " ..
                "{limit: {credit: r, value: 1000, ewma_alpha: %s}}}}}}"):format(alpha)
    end

    it("smooths with the policy's alpha", function()
        local ok, out = child(([[
local e = assert(limitr.new(%q))
e:set_time(0)
e:create_customer("c", "p")
e:allow("c", "api", 10)
e:set_time(1000) e:allow("c", "api", 10)  -- rate 0.01
e:set_time(1500) e:allow("c", "api", 30)  -- rate 0.06; ewma 0.5 * 0.06 + 0.5 * 0.01 = 0.035
io.write(string.format("%%.6f", e:projected_exhaustion("c", "api", {smoothed = true})))
]]):format(policy("0.5")))
        assert.is_true(ok, out)
        assert.are.equal(("%.6f"):format(1500 + 950 / 0.035), out)
    end)

    it("rejects values outside (0, 1]", function()
        local ok, out = child(([[
local e, err = limitr.new(%q)
io.write(tostring(err))
]]):format(policy("1.5")))
        assert.is_true(ok, out)
        assert.matches("^plans%.p%.entitlements%.api%.limit%.ewma_alpha: must be at most 1, got 1%.5 at 1:%d+$", out)
        ok, out = child(([[
local e, err = limitr.new(%q)
io.write(tostring(err))
]]):format(policy("0")))
        assert.is_true(ok, out)
        assert.matches("^plans%.p%.entitlements%.api%.limit%.ewma_alpha: must be greater than 0, got 0 at 1:%d+$",
            out)
    end)
end)

describe("governor rules at load time (docs/policy.md 6, 13)", function()
    local load = H.load_limit
    local P = "^plans%.p%.entitlements%.e%.limit"

    it("requires governor_capacity and governor_refill_rate", function()
        local e, err = load("{credit: t, value: 10, governor_enabled: true, governor_refill_rate: 1}")
        assert.is_nil(e)
        assert.matches(P .. ": governor_enabled requires governor_capacity at 7:%d+$", err)
        e, err = load("{credit: t, value: 10, governor_enabled: true, governor_capacity: 5}")
        assert.is_nil(e)
        assert.matches(P .. ": governor_enabled requires governor_refill_rate at 7:%d+$", err)
    end)

    it("requires positive sizes", function()
        local col = #("          limit: {credit: t, value: 10, governor_enabled: true, governor_capacity: 5, " ..
                      "governor_refill_rate: ") + 1
        local _, err = load("{credit: t, value: 10, governor_enabled: true, governor_capacity: 5, " ..
                            "governor_refill_rate: 0}")
        assert.are.equal(("plans.p.entitlements.e.limit.governor_refill_rate: must be greater than 0, got 0 at 7:%d")
            :format(col), err)
        _, err = load("{credit: t, value: 10, governor_enabled: true, governor_capacity: -5, " ..
                      "governor_refill_rate: 1}")
        assert.matches(P .. "%.governor_capacity: must be greater than 0, got %-5 at 7:%d+", err)
    end)

    it("requires mode hard", function()
        local _, err = load("{credit: t, value: 10, mode: observe, governor_enabled: true, governor_capacity: 5, " ..
                            "governor_refill_rate: 1}")
        assert.matches(P .. ": governor requires mode 'hard' at 7:%d+$", err)
    end)
end)
