-- Per-customer overrides (docs/engine.md section 7, 13.7, 4.7, 14.6).
local H = require "helpers"

local POLICY = [[
policy:
  credits:
    request: {}
    seat: {}
    storage: {units: MB}
  plans:
    p:
      entitlements:
        api: {limit: {credit: request, value: 1000, resets: true, reset_inc: '1day'}}
        seats: {scope: org, limit: {credit: seat, value: 3}}
        disk: {limit: {credit: storage, value: 1GB}}
        plain: {limit: {credit: request, value: 10, minimum: 0}}
        flag: {}
]]

local T = 1767225600000 -- 2026-01-01T00:00Z
local HOUR = 3600000

local function engine()
    return H.engine(POLICY, T)
end

local recorder, names = H.recorder, H.names

describe("an override raising a limit (docs/engine.md 13.7)", function()
    it("returns every limit field, applies at once and expires", function()
        local e = engine()
        e:create_customer("c", "p")
        assert.is_true(e:allow("c", "api", 1000))
        assert.are.same({ false, "limit" }, { e:allow("c", "api", 1) })
        local seen = recorder(e)
        local o = e:create_customer_override("c", "api", { value = 5000, expires = T + HOUR })
        assert.are.same({
            credit = "request", value = 5000, increment = 1, mode = "hard", hard_trailing = false,
            grants_apply = true, resets = true, reset_inc = 86400000, governor_enabled = false,
            ewma_alpha = 0.2, expires = T + HOUR,
        }, o)
        assert.is_nil(o.minimum)
        assert.is_nil(o.reset_sch)
        assert.is_nil(o.governor_capacity)
        assert.is_nil(o.governor_refill_rate)
        assert.is_nil(o.on_exceed)
        assert.are.same({ "customer-set" }, names(seen))
        assert.are.equal("c", seen[1].ev.id)
        assert.are.same(o, seen[1].ev.overrides.api)
        assert.are.same(o, e:customer("c").overrides.api)

        assert.is_true(e:allow("c", "api", 1))
        assert.are.equal(5000, e:limit("c", "api"))
        assert.are.equal(3999, e:remaining("c", "api"))
        assert.are.equal(5000, seen[2].ev.meter.limit)
        assert.are.equal(5000, e:customer("c").meters.api.limit)

        e:set_time(T + HOUR - 1)
        assert.are.equal(5000, e:limit("c", "api"))
        e:set_time(T + HOUR)
        assert.are.equal(1000, e:limit("c", "api"))
        assert.are.equal(-1, e:remaining("c", "api"))
        assert.are.equal(1001, e:value("c", "api"))
        assert.are.same({ false, "limit" }, { e:check("c", "api", 1) })
        assert.are.equal(1000, e:explain("c", "api", 1).limit)
        assert.are.equal(2, #seen) -- reads fired nothing

        assert.are.same({ false, "limit" }, { e:allow("c", "api", 1) })
        assert.are.same({ "customer-set", "meter-changed", "meter-limit" }, names(seen)) -- the removal fires nothing
        assert.are.equal(1000, seen[3].ev.meter.limit)
        assert.is_nil(e:customer("c").overrides.api)
        H.fails("no_override", e:remove_customer_override("c", "api")) -- already removed by allow
        assert.are.equal(1001, e:value("c", "api")) -- the meter keeps its value
    end)
end)

describe("override fields (docs/engine.md 7.1-7.3)", function()
    it("copies unset fields from the existing override, expires included", function()
        local e = engine()
        e:create_customer("c", "p")
        e:create_customer_override("c", "api", { value = 5000, expires = T + HOUR })
        local o = e:create_customer_override("c", "api", { increment = 10 })
        assert.are.equal(5000, o.value)
        assert.are.equal(10, o.increment)
        assert.are.equal(T + HOUR, o.expires)
        assert.is_true(e:increment("c", "api"))
        assert.are.equal(10, e:value("c", "api"))
        assert.are.equal(10, e:cost("c", "api"))
        assert.are.equal(1, e:cost("p", "api")) -- the plan's own limit is untouched
        assert.are.equal(1000, e:limit("p", "api"))
    end)

    it("an empty table copies the current limit whole, with no expiry", function()
        local e = engine()
        e:create_customer("c", "p")
        local o = e:create_customer_override("c", "plain", {})
        assert.are.same({
            credit = "request", value = 10, increment = 1, mode = "hard", hard_trailing = false,
            grants_apply = true, resets = false, governor_enabled = false, ewma_alpha = 0.2, minimum = 0,
        }, o)
    end)

    it("can change the mode, the period and the governor", function()
        local e = engine()
        e:create_customer("c", "p")
        local o = e:create_customer_override("c", "plain", { mode = "soft", resets = true, reset_inc = "1h" })
        assert.are.equal("soft", o.mode)
        assert.are.equal(HOUR, o.reset_inc)
        assert.are.equal(T + HOUR, e:resets("c", "plain"))
        assert.is_true(e:allow("c", "plain", 25))
        assert.are.equal(-15, e:remaining("c", "plain"))
        o = e:create_customer_override("c", "api", { reset_inc = 1000 })
        assert.are.equal(1000, o.reset_inc)
        assert.are.equal(T + 1000, e:resets("c", "api"))
        o = e:create_customer_override("c", "api", { reset_sch = "monthly:1", reset_inc = nil })
        assert.are.equal("monthly:1", o.reset_sch)
        assert.is_nil(o.reset_inc)
        assert.are.equal(1769904000000, e:resets("c", "api")) -- 2026-02-01
        o = e:create_customer_override("c", "api", { governor_enabled = true, governor_capacity = 5,
                                                     governor_refill_rate = 0.001 })
        assert.are.equal(5, e:allowance("c", "api"))
        assert.are.same({ false, "governor" }, { e:allow("c", "api", 6) })
    end)

    it("takes ewma_alpha and minimum", function()
        local e = engine()
        e:create_customer("c", "p")
        local o = e:create_customer_override("c", "api", { ewma_alpha = 0.5, minimum = 0 })
        assert.are.equal(0.5, o.ewma_alpha)
        assert.are.equal(0, o.minimum)
        assert.is_true(e:allow("c", "api", -5))
        assert.are.equal(0, e:value("c", "api"))
        local _, err = e:create_customer_override("c", "api", { ewma_alpha = 2 })
        assert.matches("^overrides%.c%.api%.ewma_alpha: must be at most 1, got 2", err)
        _, err = e:create_customer_override("c", "api", { minimum = 2000 })
        assert.matches("^overrides%.c%.api: minimum 2000 is above value 1000", err)
    end)

    it("converts unit strings into the credit's units", function()
        local e = engine()
        e:create_customer("c", "p")
        local o = e:create_customer_override("c", "disk", { value = "2GB" })
        assert.are.equal(2000, o.value)
        assert.are.equal(2000, e:limit("c", "disk"))
    end)

    it("applies where the customer owns the meter: override the org for an org-scoped limit", function()
        local e = engine()
        e:create_customer("acme", "p", { type = "org" })
        e:create_customer("u", "p", { refs = { "acme" } })
        assert.is_not_nil(e:create_customer_override("acme", "seats", { value = 10 }))
        assert.are.equal(10, e:limit("u", "seats"))
        assert.is_true(e:allow("u", "seats", 8))
        assert.are.equal(2, e:remaining("u", "seats"))
        assert.are.equal(8, e:value("acme", "seats"))
        -- an override on the user does not apply to a meter it does not own
        assert.is_not_nil(e:create_customer_override("u", "seats", { value = 100 }))
        assert.are.equal(10, e:limit("u", "seats"))
        assert.are.same({ false, "limit" }, { e:allow("u", "seats", 3) })
    end)
end)

describe("remove_customer_override (docs/engine.md 7.6)", function()
    it("returns true with customer-set when one was removed, else false", function()
        local e = engine()
        e:create_customer("c", "p")
        e:create_customer_override("c", "api", { value = 1 })
        assert.are.equal(1, e:limit("c", "api"))
        local seen = recorder(e)
        assert.is_true(e:remove_customer_override("c", "api"))
        assert.are.same({ "customer-set" }, names(seen))
        assert.is_nil(seen[1].ev.overrides.api)
        assert.are.equal(1000, e:limit("c", "api"))
        assert.are.equal("the customer has no override for this entitlement",
            H.fails("no_override", e:remove_customer_override("c", "api")))
        H.fails("unknown_customer", e:remove_customer_override("nobody", "api"))
        H.fails("no_override", e:remove_customer_override("c", "nope"))
        assert.are.equal(1, #seen)
    end)
end)

describe("bad overrides (docs/engine.md 7.3)", function()
    it("refuses an unknown customer or an entitlement not in its plan", function()
        local e = engine()
        e:create_customer("c", "p")
        local seen = recorder(e)
        local o, _, code = e:create_customer_override("nobody", "api", { value = 5 })
        assert.is_nil(o)
        assert.are.equal("unknown_customer", code)
        o, _, code = e:create_customer_override("c", "nope", { value = 5 })
        assert.is_nil(o)
        assert.are.equal("unknown_entitlement", code)
        assert.are.equal(0, #seen)
    end)

    it("refuses an unknown credit and both reset_inc and reset_sch, with paths", function()
        local e = engine()
        e:create_customer("c", "p")
        local seen = recorder(e)
        local o, err = e:create_customer_override("c", "api", { credit = "zz" })
        assert.is_nil(o)
        assert.matches("^overrides%.c%.api%.credit: unknown credit 'zz'", err)
        o, err = e:create_customer_override("c", "api", { reset_inc = "1day", reset_sch = "monthly:1" })
        assert.is_nil(o)
        assert.matches("^overrides%.c%.api: reset_inc and reset_sch are mutually exclusive", err)
        o, err = e:create_customer_override("c", "api", { valeu = 5 })
        assert.is_nil(o)
        assert.matches("^overrides%.c%.api: unknown field 'valeu' %(did you mean 'value'%?%)", err)
        o, err = e:create_customer_override("c", "api", { value = -5, mode = "sotf" })
        assert.is_nil(o)
        local lines = {}
        for l in err:gmatch("[^\n]+") do lines[#lines + 1] = l end
        assert.are.equal(2, #lines)
        assert.matches("overrides%.c%.api%.mode: unknown mode 'sotf' %(did you mean 'soft'%?%)", err)
        assert.matches("overrides%.c%.api%.value: must not be negative, got %-5", err)
        -- no " at L:C": the positions would point into JSON the caller never wrote
        for _, line in ipairs(lines) do assert.is_nil(line:find(" at %d+:%d+$"), line) end
        o, err = e:create_customer_override("c", "plain", { reset_sch = "monthly:1" })
        assert.is_nil(o)
        assert.matches("^overrides%.c%.plain: reset_sch is set but resets is not true", err)
        o, err = e:create_customer_override("c", "disk", { value = "2h" })
        assert.is_nil(o)
        assert.matches("^overrides%.c%.disk%.value: '2h' is a duration but credit 'storage' is measured in MB", err)
        o, err = e:create_customer_override("c", "api", { expires = "tomorrow" })
        assert.is_nil(o)
        assert.matches("^overrides%.c%.api%.expires: ", err)
        o, err = e:create_customer_override("c", "api", { mode = "soft", hard_trailing = true })
        assert.is_nil(o)
        assert.matches("^overrides%.c%.api: hard_trailing requires mode 'hard'", err)
        o, err = e:create_customer_override("c", "flag", { value = 5 })
        assert.is_nil(o)
        assert.matches("^overrides%.c%.flag: missing required field 'credit' %(the entitlement is a feature flag%)", err)
        assert.are.equal(0, #seen)
        assert.are.same({}, e:customer("c").overrides)
        assert.has_error(function() e:create_customer_override("c", "api", 5) end)
        assert.has_error(function() e:create_customer_override("c", "api") end)
    end)
end)
