-- e:set_credit and e:credit (docs/engine.md 11, credits at run time): a new
-- price for later calls only, a credit added, a bad one refused with its
-- path, wrong argument types raised.
local limitr = require "limitr"

local POLICY = [[
policy:
  credits:
    token: {price: {amount: 0.01}}
  plans:
    free:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 1000000, mode: soft}}
]]

local function engine()
    local e = assert(limitr.new(POLICY))
    assert(e:create_customer("u"))
    assert(e:add_customer_cap("u", 1000, { id = "spend", observe_only = true }))
    return e
end

describe("e:set_credit", function()
    it("prices later calls at the new price and keeps what was recorded", function()
        local e = engine()
        assert.is_true(e:allow("u", "chat", 10))
        assert.is_true(e:set_credit("token", { price = { amount = 0.02 } }))
        assert.is_true(e:allow("u", "chat", 10))
        assert.near(0.3, e:customer_cap("u", "spend").meter_value, 1e-12)
        assert.same({ price = { amount = 0.02 } }, e:credit("token"))
    end)

    it("adds a credit, {} included", function()
        local e = engine()
        assert.same({ nil, "the policy has no credit of that name", "unknown_credit" },
            { e:credit("seat") })
        assert.is_true(e:set_credit("seat", {}))
        assert.same({}, e:credit("seat"))
    end)

    it("refuses a bad credit with its path and changes nothing", function()
        local e = engine()
        assert.same({ nil, "credits.token.price.amount: must not be negative, got -1", "invalid_policy" },
            { e:set_credit("token", { price = { amount = -1 } }) })
        assert.same({ price = { amount = 0.01 } }, e:credit("token"))
        assert.has_error(function() e:set_credit("token", 5) end)
        assert.has_error(function() e:set_credit(nil, {}) end)
        assert.has_error(function() e:credit() end)
    end)
end)
