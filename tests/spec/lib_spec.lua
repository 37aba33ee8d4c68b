-- lib_spec.lua: host functions called from snippets (docs/engine.md 10.3,
-- docs/sandbox.md): arguments and results cross by copy, without JSON.
local limitr = require "limitr"
local H = require "helpers"

-- A value snippet that hands its arguments to App.f and returns what the
-- result says, so that every crossing is seen from the engine.
local POLICY = [[
policy:
  credits: {t: {}}
  plans:
    p:
      default: true
      entitlements:
        x:
          limit:
            credit: t
            value: |
              function(customer)
                local r = App.f(1, "two", true, nil, {3, 4, {five = 5}}, {a = {b = false}}, {})
                if type(r) ~= "table" then return r end
                return r.n + #r.list + (r.nested.deep[2] or 0) + (r.flag and 1000 or 0)
              end
]]

describe("a host function", function()
    it("receives copies of the arguments and returns a copy of its result", function()
        local e = assert(limitr.new(POLICY))
        assert(e:create_customer("c"))
        local got
        e:lib("App", "f", function(...)
            got = H.pack(...)
            return { n = 10, list = { 1, 2, 3 }, nested = { deep = { 7, 20 } }, flag = true }
        end)
        assert.are.equal(1033, e:limit("c", "x"))
        assert.are.equal(7, got.n)
        assert.are.same({ 1, "two", true, nil, { 3, 4, { five = 5 } }, { a = { b = false } }, {} },
            { got[1], got[2], got[3], got[4], got[5], got[6], got[7] })
    end)

    it("may return nothing, a number or a string", function()
        local e = assert(limitr.new(POLICY))
        assert(e:create_customer("c"))
        local result
        e:lib("App", "f", function() return result end)
        result = 42
        assert.are.equal(42, e:limit("c", "x"))
        result = nil
        local errors = H.errors(e)
        assert.is_nil(e:limit("c", "x")) -- the snippet returned nil: an error
        assert.matches("must return a number", errors[1].message)
    end)

    it("fails with a clear error for a result that cannot cross", function()
        local e = assert(limitr.new(POLICY))
        assert(e:create_customer("c"))
        local errors = H.errors(e)
        e:lib("App", "f", function() return { bad = 0 / 0 } end)
        assert.is_nil(e:limit("c", "x"))
        assert.matches("App.f: result: NaN and infinity cannot cross", errors[1].message)
        e:lib("App", "f", function() return { print } end)
        assert.is_nil(e:limit("c", "x"))
        assert.matches("only nil, booleans, numbers, strings and tables", errors[2].message)
        e:lib("App", "f", function() local t = {} t.t = t return t end)
        assert.is_nil(e:limit("c", "x"))
        assert.matches("nested too deeply", errors[3].message)
    end)

    it("gets an App event's payload as a table, its customer read during the call", function()
        local e = assert(limitr.new((POLICY:gsub("        x:.*", "        y: {limit: {credit: t, value: 10}}\n"))))
        assert(e:create_customer("c"))
        local seen = {}
        e:lib("App", "meter_changed", function(ev)
            seen[#seen + 1] = { ev.meter.value, ev.customer.id, ev.customer.meters.y.value }
        end)
        e:lib("App", "event_handler", function(name, ev) seen[#seen + 1] = { name, ev.entitlement } end)
        assert.is_true(e:allow("c", "y", 3))
        assert.are.same({ { 3, "c", 3 }, { "meter-changed", "y" } }, seen)
    end)
end)
