-- exchange_spec.lua: credit_exchange from Lua (docs/economy.md 3): what a
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
