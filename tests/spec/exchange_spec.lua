-- exchange_spec.lua: credit_exchange from Lua (docs/policy.md 8): what a
-- value in one currency or credit is worth in another, through runes.
local limitr = require "limitr"
local H = require "helpers"

local POLICY = [[
policy:
  exchange:
    euro: {value: 1.14, currency: usd}
    abstract: {value: 1, currency: rune}
    ai_tokens: {value: 1.25, currency: abstract}
    ai_input_token: {value: 0.000006, currency: ai_tokens}
    ai_output_token: {value: 0.00003, currency: ai_tokens}
    mb_storage: {value: 0.00003, currency: abstract}
  credits:
    seat: {price: {amount: 12}}
    plain: {}
  plans: {p: {default: true, entitlements: {s: {limit: {credit: seat, value: 5}}}}}
]]

describe("credit_exchange", function()
    it("converts through runes, rounded to 9 decimals", function()
        local e = assert(limitr.new(POLICY))
        assert.are.equal(133333.333333333, e:credit_exchange("abstract", "ai_input_token"))
        assert.are.equal(26666.666666667, e:credit_exchange("abstract", "ai_output_token"))
        assert.are.equal(40, e:credit_exchange("mb_storage", "ai_output_token", 50))
        assert.are.equal(11.4, e:credit_exchange("euro", "rune", 10))
        assert.are.equal(24, e:credit_exchange("seat", "usd", 2))
        assert.are.equal(7, e:credit_exchange("plain", "plain", 7))
        assert.are.equal(1, e:credit_exchange("usd", "rune"))
        if math.type then assert.are.equal("integer", math.type(e:credit_exchange("seat", "usd", 2))) end
    end)

    it("answers nil, err, code for what does not convert, and raises on wrong types", function()
        local e = assert(limitr.new(POLICY))
        local err = H.fails("unknown_currency", e:credit_exchange("plain", "rune", 1))
        assert.matches("'plain' is neither rune, an exchange pair nor a priced credit", err)
        H.fails("unknown_currency", e:credit_exchange("rune", "yen", 1))
        H.fails("invalid_value", e:credit_exchange("rune", "seat", 1 / 0))
        assert.has_error(function() e:credit_exchange("rune", {}, 1) end)
        assert.has_error(function() e:credit_exchange("rune", "seat", "x") end)
    end)

    it("is refused at load for pairs that do not reach runes", function()
        local ok, err, code = limitr.new([[
policy:
  exchange:
    a: {value: 1, currency: b}
    b: {value: 2, currency: a}
]])
        assert.is_nil(ok)
        assert.are.equal("invalid_policy", code)
        assert.matches("exchange.a: pair 'a' does not reach runes: its exchange pairs form a cycle", err)
    end)
end)

describe("prices in meter events", function()
    local PRICED = [[
policy:
  credits:
    tok:
      pricing_model: tiered
      tiers: [{up_to: 10, price: {amount: 1}}, {price: {amount: 0.5}}]
    cent: {price: {amount: 0.01}}
    plain: {}
  plans:
    p:
      default: true
      entitlements:
        t: {limit: {credit: tok, value: 0, mode: soft}}
        c: {limit: {credit: cent, value: 100, mode: soft}}
        h: {limit: {credit: cent, value: 100}}
        u: {limit: {credit: plain, value: 0, mode: soft}}
]]

    it("carry each call's worth at list price, from the billable position", function()
        local e = assert(limitr.new(PRICED))
        assert(e:create_customer("c"))
        local diffs = {}
        e:on("*", function(ev, name)
            if ev.meter then diffs[#diffs + 1] = { name, ev.entitlement, ev.meter.price_diff, ev.overage_price } end
        end)
        assert.is_true(e:allow("c", "t", 8))
        assert.is_true(e:allow("c", "t", 4))
        assert.is_true(e:allow("c", "t", -6))
        assert.is_true(e:allow("c", "c", 150))       -- 50 past the limit
        assert.is_false((e:allow("c", "h", 120)))    -- denied: its worth still shown
        assert.is_true(e:allow("c", "u", 5))         -- unpriced: no price
        assert.are.same({
            { "meter-overage", "t", 8, 8 },
            { "meter-overage", "t", 3, 3 },
            { "meter-changed", "t", -5, nil },
            { "meter-overage", "c", 0.5, 0.5 },
            { "meter-limit", "h", 0.2, nil },
            { "meter-overage", "u", nil, nil },
        }, diffs)
    end)
end)
