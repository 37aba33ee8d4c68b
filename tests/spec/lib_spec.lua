-- lib_spec.lua: host functions called from snippets (docs/engine.md 10.3,
-- docs/sandbox.md): arguments and results cross by copy, without JSON.
local limitr = require "limitr"
local H = require "helpers"

-- A value snippet that hands its arguments to App.f and returns what the
-- result says, so that every crossing is seen from the engine.
local POLICY = H.plan_policy([[
x:
  limit:
    credit: t
    value: |
      function(customer)
        local r = App.f(1, "two", true, nil, {3, 4, {five = 5}}, {a = {b = false}}, {})
        if type(r) ~= "table" then return r end
        return r.n + #r.list + (r.nested.deep[2] or 0) + (r.flag and 1000 or 0)
      end
]])

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
        local e = assert(limitr.new(H.plan_policy("y: {limit: {credit: t, value: 10}}")))
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

describe("a host function's arguments", function()
    it("keep their keys when the snippet's strings come and go", function()
        local e = assert(limitr.new(H.plan_policy([[
x: {limit: {credit: t, value: 100}}
]], [[
handlers:
  meter-changed: |
    function(event)
      for i = 1, 3000 do
        local junk = {}
        for j = 1, 10 do junk[j] = "pad" .. i .. "_" .. j end
        App.f({["k" .. i] = i})
      end
    end
]]), nil, { snippet_milliseconds = 10000 })) -- 3000 host calls: no time budget under load
        assert(e:create_customer("c"))
        local bad, calls = 0, 0
        e:lib("App", "f", function(t)
            for k, v in pairs(t) do
                calls = calls + 1
                if k ~= "k" .. v then bad = bad + 1 end
            end
        end)
        assert.is_true(e:allow("c", "x", 1))
        assert.are.equal(3000, calls)
        assert.are.equal(0, bad)
    end)

    it("carry a handler's whole event, its customer included", function()
        local e = assert(limitr.new(H.plan_policy([[
x: {limit: {credit: t, value: 100}}
]], [[
handlers:
  meter-changed: "function(event) App.f(event, event.customer) end"
]])))
        assert(e:create_customer("c"))
        local got
        e:lib("App", "f", function(ev, customer) got = { ev, customer } end)
        assert.is_true(e:allow("c", "x", 4))
        assert.are.equal(4, got[1].meter.value)
        assert.are.equal(4, got[1].customer.meters.x.value)
        assert.are.equal("p", got[2].plan)
        assert.are.equal(4, got[2].meters.x.value)
    end)
end)

describe("a subscriber's payload handed back to the engine", function()
    it("crosses whole, as the event data of another call", function()
        local e = assert(limitr.new(H.plan_policy([[
x: {limit: {credit: t, value: 100}}
y: {limit: {credit: t, value: 100}}
]])))
        assert(e:create_customer("c"))
        local data
        e:on("meter-changed", function(ev)
            if ev.entitlement == "x" then
                assert(e:allow("c", "y", 1, { event = ev }))
            else
                data = ev.event_data
            end
        end)
        assert.is_true(e:allow("c", "x", 2))
        assert.are.equal("x", data.entitlement)
        assert.are.equal(2, data.meter.value)
        assert.are.equal(2, data.customer.meters.x.value)
    end)
end)
