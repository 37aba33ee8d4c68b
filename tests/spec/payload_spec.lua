-- payload_spec.lua: what a host subscriber receives (docs/engine.md 10.1):
-- plain tables built without JSON, each entry when first read; the
-- customer snapshot as it was when the event fired, read during delivery.
local limitr = require "limitr"
local H = require "helpers"

local CHAT = "chat: {limit: {credit: t, value: 10}}"
local POLICY = H.plan_policy(CHAT)

local function engine()
    local e = assert(limitr.new(POLICY))
    assert(e:create_customer("c"))
    return e
end

describe("a subscriber's payload", function()
    it("keeps the values of its event after the subscriber returned", function()
        local e = engine()
        local kept = {}
        e:on("meter-changed", function(ev) kept[#kept + 1] = ev end)
        assert.is_true(e:allow("c", "chat", 3))
        assert.is_true(e:allow("c", "chat", 4))
        assert.are.same({ limit = 10, old = 0, value = 3, diff = 3, overhead = 0, overhead_diff = 0 },
            kept[1].meter)
        assert.are.equal(7, kept[1].remaining)
        assert.are.equal("chat", kept[1].entitlement)
        assert.are.equal("t", kept[1].credit.name)
        assert.are.equal(7, kept[2].meter.value)
        assert.are.equal("c", kept[1].customer.id) -- the ID is always there
    end)

    it("iterates with pairs like a plain table", function()
        local e = engine()
        local keys = {}
        e:on("meter-changed", function(ev)
            for k in pairs(ev) do keys[#keys + 1] = k end
        end)
        assert.is_true(e:allow("c", "chat", 1, { event = { r = 1 } }))
        table.sort(keys)
        assert.are.same({ "credit", "customer", "entitlement", "event_data", "meter", "plan", "remaining" }, keys)
    end)

    it("keeps what the subscriber wrote before reading", function()
        local e = engine()
        local ev_kept
        e:on("meter-changed", function(ev)
            ev.entitlement = "mine"
            ev.extra = 1
            ev_kept = ev
        end)
        assert.is_true(e:allow("c", "chat", 1))
        local n = 0
        for _ in pairs(ev_kept) do n = n + 1 end
        assert.are.equal("mine", ev_kept.entitlement)
        assert.are.equal(1, ev_kept.extra)
        assert.are.equal(7, n) -- six of the payload, one of the subscriber's
        assert.are.equal(1, ev_kept.meter.value)
    end)

    it("shows the customer as it was when the event fired", function()
        local e = engine()
        local values = {}
        e:on("meter-changed", function(ev)
            if #values == 0 then
                values[1] = "outer"
                assert(e:allow("c", "chat", 5)) -- changes c before the read
            end
            values[#values + 1] = ev.customer.meters.chat.value
        end)
        assert.is_true(e:allow("c", "chat", 2))
        -- the nested event read 7, then the outer one still 2
        assert.are.same({ "outer", 7, 2 }, values)
    end)

    it("shows the customer at the event's time when a subscriber moves the clock", function()
        local e = assert(limitr.new(H.plan_policy([[
daily: {limit: {credit: t, value: 10, resets: true, reset_inc: 1day}}
]])))
        e:set_time(1000)
        assert(e:create_customer("c"))
        local value
        e:on("meter-changed", function(ev)
            e:advance(86400000) -- a new period for the meter
            value = ev.customer.meters.daily.value
        end)
        assert.is_true(e:allow("c", "daily", 4))
        assert.are.equal(4, value)
        assert.are.equal(0, e:value("c", "daily"))
    end)

    it("keeps the customer of a payload whose customer a subscriber deleted", function()
        local e = engine()
        local snapshot
        e:on("meter-changed", function() assert(e:delete_customer("c")) end)
        e:on("meter-changed", function(ev) snapshot = H.keep(ev).customer end)
        assert.is_true(e:allow("c", "chat", 2))
        assert.are.equal(2, snapshot.meters.chat.value)
        assert.is_nil(e:customer("c"))
    end)

    it("is a copy: writes reach neither the engine nor the next payload", function()
        local e = engine()
        local seen = {}
        e:on("meter-changed", function(ev)
            seen[#seen + 1] = ev.customer.meters.chat.value
            ev.customer.meters.chat.value = 1000
            ev.meter.value = 1000
        end)
        assert.is_true(e:allow("c", "chat", 1))
        assert.is_true(e:allow("c", "chat", 1))
        assert.are.same({ 1, 2 }, seen)
        assert.are.equal(2, e:value("c", "chat"))
    end)

    if jit then
        it("carries the whole customer under LuaJIT (no __pairs to fill it later)", function()
            local e = engine()
            local kept
            e:on("meter-changed", function(ev) kept = kept or ev end)
            assert.is_true(e:allow("c", "chat", 3))
            assert.is_true(e:allow("c", "chat", 1))
            assert.are.equal(3, kept.customer.meters.chat.value)
        end)
    else
        it("gives the customer snapshot only while the event is delivered", function()
            local e = engine()
            local kept
            e:on("meter-changed", function(ev) kept = ev end)
            assert.is_true(e:allow("c", "chat", 3))
            assert.are.equal("c", kept.customer.id)
            local ok, err = pcall(function() return kept.customer.meters end)
            assert.is_false(ok)
            assert.matches("only while the event is delivered", err)
            -- read during delivery, it is kept
            local held
            e:on("meter-changed", function(ev) held = H.keep(ev) end)
            assert.is_true(e:allow("c", "chat", 1))
            assert.are.equal(4, held.customer.meters.chat.value)
        end)

        it("raises, never reads a closed engine, for a payload kept past close()", function()
            local e = engine()
            local kept
            e:on("meter-changed", function(ev) kept = ev end)
            assert.is_true(e:allow("c", "chat", 3))
            e:close()
            local ok, err = pcall(function() return kept.meter end)
            assert.is_false(ok)
            assert.matches("engine is closed", err)
        end)
    end
end)

describe("a policy handler's event", function()
    local HANDLED = H.plan_policy(CHAT, [[
handlers:
  meter-changed: |
    function(event)
      local keys = 0
      for _ in pairs(event) do keys = keys + 1 end
      App.got(event.meter.value, event.event_data and event.event_data.r,
        event.customer.id, event.customer.meters.chat.value, keys, event.credit.name)
      event.meter.value = -1 -- a copy: the host's subscriber sees the event's
    end
]])

    it("is built without JSON, with the same fields as a subscriber's", function()
        local e = assert(limitr.new(HANDLED))
        assert(e:create_customer("c"))
        local got, seen = {}, {}
        e:lib("App", "got", function(...) got[#got + 1] = { ... } end)
        e:on("meter-changed", function(ev) seen[#seen + 1] = ev.meter.value end)
        assert.is_true(e:allow("c", "chat", 3, { event = { r = "x" } }))
        assert.is_true(e:allow("c", "chat", 1))
        assert.are.same({ { 3, "x", "c", 3, 7, "t" }, { 4, nil, "c", 4, 6, "t" } }, got)
        assert.are.same({ 3, 4 }, seen)
    end)
end)

describe("limitr.plain", function()
    it("fills a payload so that next() and raw readers see all of it", function()
        local e = engine()
        local kept
        e:on("meter-changed", function(ev) kept = limitr.plain(ev) end)
        assert.is_true(e:allow("c", "chat", 2))
        local keys = {}
        local k = next(kept)
        while k ~= nil do keys[#keys + 1] = k k = next(kept, k) end
        table.sort(keys)
        assert.are.same({ "credit", "customer", "entitlement", "meter", "plan", "remaining" }, keys)
        assert.are.equal(2, rawget(rawget(rawget(kept.customer, "meters"), "chat"), "value"))
        assert.are.equal(5, limitr.plain(5))
        local cyclic = {} cyclic.self = cyclic
        assert.are.equal(cyclic, limitr.plain(cyclic))
    end)
end)

describe("a snippet's customer", function()
    it("has its id at once and the rest when read", function()
        local e = assert(limitr.new(H.plan_policy([[
chat: {limit: {credit: t, value: 100}}
x:
  limit:
    credit: t
    value: |
      function(customer)
        local n = 0
        for k in pairs(customer) do n = n + 1 end
        return #customer.id * 1000 + customer.meters.chat.value * 10 + n
      end
y:
  limit:
    credit: t
    mode: soft
    value: 0
    on_exceed: |
      function(ctx)
        return ctx.customer.id == "cc" and ctx.caller.id == "cc"
          and ctx.customer.meters.chat.value == 7
      end
]])))
        assert(e:create_customer("cc"))
        assert.is_true(e:allow("cc", "chat", 7))
        -- id of 2 bytes, chat 7, and the snapshot's fields
        local n = 0
        for _ in pairs(e:customer("cc")) do n = n + 1 end
        assert.are.equal(2000 + 70 + n, e:limit("cc", "x"))
        assert.is_true(e:allow("cc", "y", 1))
    end)
end)

describe("a snippet that keeps a snapshot past its call", function()
    it("gets a clear error, never a read of a finished call", function()
        local e = assert(limitr.new([[
policy:
  lua: |
    local keep
    function stash(c) keep = c end
    function peek() return keep and keep.plan end
  credits: {t: {}}
  plans:
    p:
      default: true
      entitlements:
        x: {limit: {credit: t, value: 100}}
        a: {limit: {credit: t, value: 100}}
  handlers:
    meter-changed: |
      function(event)
        if event.entitlement == "a" then
          stash(event.customer)
        else
          App.go()
          App.show(peek())
        end
      end
]]))
        assert(e:create_customer("c"))
        local shown, errors = "not called", H.errors(e)
        e:lib("App", "go", function() assert(e:allow("c", "a", 1)) end)
        e:lib("App", "show", function(v) shown = v end)
        assert.is_true(e:allow("c", "x", 1))
        assert.are.equal("not called", shown)
        assert.are.equal("handlers.meter-changed", errors[1].path)
        assert.matches("can be read only during the call that received it", errors[1].message)
    end)
end)

describe("a write to a snapshot's id before the rest is read", function()
    it("stays, in a subscriber's payload and in a snippet's customer", function()
        local e = assert(limitr.new(H.plan_policy([[
chat: {limit: {credit: t, value: 100}}
x: {limit: {credit: t, value: "function(c) c.id = 'four' local _ = c.meters return #c.id end"}}
]])))
        assert(e:create_customer("c"))
        local id, plan
        e:on("meter-changed", function(ev)
            ev.customer.id = "mine"
            plan = ev.customer.plan
            id = ev.customer.id
        end)
        assert.is_true(e:allow("c", "chat", 1))
        assert.are.same({ "mine", "p" }, { id, plan })
        assert.are.equal(4, e:limit("c", "x"))
    end)
end)
