-- Policy logic in Lua: the shared `lua` chunk, handlers, on_exceed, limit
-- value snippets and host libraries, with their errors.
local limitr = require "limitr"
local H = require "helpers"

local POLICY = [==[
policy:
  lua: |
    QUOTA_DEFAULT = 10
    function seat_quota(customer, default)
      local m = customer.metadata
      return (m and tonumber(m.seat_quota)) or default
    end
  credits:
    token: {}
    seat: {}
  plans:
    pro:
      entitlements:
        chat:
          limit:
            credit: token
            mode: soft
            value: 100
            on_exceed: |
              function(ctx)
                if ctx.value + ctx.requested - ctx.limit > 50 then
                  return false, "overage ceiling"
                end
                return true
              end
        strict:
          limit:
            credit: token
            value: 10
            on_exceed: !lua |
              function(ctx)
                local m = ctx.customer.metadata
                return m ~= nil and m.overage_ok == true
              end
        broken:
          limit:
            credit: token
            value: 10
            on_exceed: |
              function(ctx)
                local x = nil
                return x.field
              end
        seats:
          limit: { credit: seat, value: "function(customer) return seat_quota(customer, QUOTA_DEFAULT) end" }
  handlers:
    meter-overage: |
      function(event)
        App.bill(event.customer.id, event.entitlement, event.overage)
      end
]==]

local function engine()
    local e = H.engine(POLICY)
    return e, H.errors(e)
end

describe("snippets", function()
    it("runs the shared lua chunk and sees its globals in snippets", function()
        local e = engine()
        e:create_customer("a", "pro")
        e:create_customer("b", "pro", { metadata = { seat_quota = "25" } })
        assert.are.equal(10, e:limit("a", "seats"))
        assert.are.equal(25, e:limit("b", "seats"))
        assert.is_true(e:allow("b", "seats", 25))
        assert.are.same({ false, "limit" }, { e:allow("b", "seats", 1) })
    end)

    it("calls on_exceed only past the limit; its reason reaches the event and explain", function()
        local e = engine()
        local limits = {}
        e:on("meter-limit", function(ev) limits[#limits + 1] = H.keep(ev) end)
        e:create_customer("a", "pro")
        assert.is_true(e:allow("a", "chat", 100))        -- within: no snippet
        assert.is_true(e:allow("a", "chat", 50))         -- overage 50: allowed
        assert.are.same({ false, "overage ceiling" }, { e:allow("a", "chat", 1) })
        assert.are.equal("overage ceiling", limits[1].reason)
        local x = e:explain("a", "chat", 1)
        assert.are.equal("on_exceed", x.gate)
        assert.are.equal("overage ceiling", x.reason)
        assert.are.equal(150, e:value("a", "chat"))
    end)

    it("lets on_exceed allow hard overage from customer metadata", function()
        local e = engine()
        local overages = {}
        e:on("meter-overage", function(ev) overages[#overages + 1] = H.keep(ev) end)
        e:lib("App", "bill", function() end)
        e:create_customer("plain", "pro")
        e:create_customer("trusted", "pro", { metadata = { overage_ok = true } })
        assert.are.same({ false, "on_exceed" }, { e:allow("plain", "strict", 11) })
        assert.is_true(e:allow("trusted", "strict", 11))
        assert.are.equal(1, overages[1].overage)
        assert.is_true(e:allow("trusted", "strict", 1, { force = true })) -- force skips it
    end)

    it("calls host libraries from handlers, with copies of the arguments", function()
        local e = engine()
        local bills = {}
        e:lib("App", "bill", function(id, ent, overage) bills[#bills + 1] = { id, ent, overage } end)
        e:create_customer("a", "pro")
        e:allow("a", "chat", 120)
        assert.are.same({ { "a", "chat", 20 } }, bills)
    end)

    it("turns a failing snippet into an error event naming path and line; the mode's default applies", function()
        local e, errors = engine()
        e:create_customer("a", "pro")
        assert.are.same({ false, "limit" }, { e:allow("a", "broken", 11) })
        assert.are.equal(1, #errors)
        assert.are.equal("plans.pro.entitlements.broken.limit.on_exceed", errors[1].path)
        assert.are.equal(
            "plans.pro.entitlements.broken.limit.on_exceed:3: attempt to index a nil value (local 'x')",
            errors[1].message)
        assert.is_true(e:allow("a", "broken", 10)) -- the engine keeps working
    end)

    it("takes an on_exceed reason whole or not at all", function()
        local function deny_with(reason)
            local e = assert(limitr.new(([[
policy:
  credits: {t: {}}
  plans:
    p:
      default: true
      entitlements:
        e: {limit: {credit: t, value: 1, on_exceed: "function() return false, %s end"}}
]]):format(reason)))
            local errors = {}
            e:on("error", function(ev) errors[#errors + 1] = ev.message end)
            e:create_customer("c")
            return { e:allow("c", "e", 2) }, errors
        end
        local long = ("x"):rep(127)
        assert.are.same({ false, long }, (deny_with("string.rep('x', 127)")))
        assert.are.same({ false, "on_exceed" }, (deny_with("''")))
        assert.are.same({ false, "on_exceed" }, (deny_with("nil")))
        for _, bad in ipairs({ "string.rep('x', 128)", "'a' .. string.char(0) .. 'b'", "5", "{}" }) do
            local answer, errors = deny_with(bad)
            assert.are.same({ false, "limit" }, answer, bad) -- the hard mode's rule
            assert.are.equal(1, #errors, bad)
            assert.matches("reason must be a string of at most 127 bytes without NUL", errors[1])
        end
    end)

    it("fires error when a handler calls a missing host function, and goes on", function()
        local e, errors = engine()
        e:create_customer("a", "pro")
        assert.is_true(e:allow("a", "chat", 120))
        assert.are.equal("handlers.meter-overage", errors[1].path)
        assert.matches("attempt to index a nil value %(global 'App'%)", errors[1].message)
        assert.are.equal(120, e:value("a", "chat"))
    end)

    it("denies with error when a limit value snippet fails", function()
        local e = H.engine([[
policy:
  credits: {seat: {}}
  plans:
    p:
      entitlements:
        seats: {limit: {credit: seat, value: "function(c) return c.metadata.quota end"}}
]])
        local errors = H.errors(e)
        e:create_customer("a", "p")
        assert.are.same({ false, "error" }, { e:allow("a", "seats", 1) })
        H.fails("error", e:limit("a", "seats"))
        assert.are.equal("plans.p.entitlements.seats.limit.value", errors[1].path)
        assert.matches("attempt to index a nil value %(field 'metadata'%)", errors[1].message)
        local x = e:explain("a", "seats", 1)
        assert.are.equal("limit", x.gate)
        assert.are.equal("error", x.reason)
    end)
end)

describe("snippets at load time", function()
    local function load_error(policy)
        return H.fails("invalid_policy", limitr.new(policy))
    end

    it("reports a syntax error with the snippet's path and line", function()
        assert.are.equal(
            "plans.p.entitlements.e.limit.on_exceed: Lua syntax error: snippet line 2: 'end' expected (to close 'function' at line 1) near <eof> at 6:43",
            load_error([[
policy:
  credits: {t: {}}
  plans:
    p:
      entitlements:
        e: {limit: {credit: t, on_exceed: "function(ctx)\n return true"}}
]]))
    end)

    it("requires a function expression in snippet fields", function()
        assert.matches("plans.p.entitlements.e.limit.on_exceed: expected a Lua function expression",
            load_error([[
policy:
  credits: {t: {}}
  plans: {p: {entitlements: {e: {limit: {credit: t, on_exceed: "return true"}}}}}
]]), 1, true)
        assert.matches("on_exceed: Lua syntax error: snippet line 1: <eof> expected near '('",
            load_error([[
policy:
  credits: {t: {}}
  plans: {p: {entitlements: {e: {limit: {credit: t, on_exceed: "function() end()"}}}}}
]]), 1, true)
    end)

    it("reports errors of the lua chunk, and unknown handler events", function()
        assert.matches("^lua: Lua error while running the chunk: lua:1: boom",
            load_error("policy:\n  lua: error('boom')\n"))
        assert.matches("^lua: Lua syntax error: ",
            load_error("policy:\n  lua: 'x = = 1'\n"))
        assert.matches("handlers%.meter%-overges: unknown event 'meter%-overges' %(did you mean 'meter%-overage'%?%)",
            load_error("policy:\n  handlers:\n    meter-overges: 'function(e) end'\n"))
        assert.matches("on_exceed is not allowed with mode 'observe'",
            load_error([[
policy:
  credits: {t: {}}
  plans: {p: {entitlements: {e: {limit: {credit: t, mode: observe, on_exceed: "function() return true end"}}}}}
]]), 1, true)
    end)

    it("refuses the !lua tag on fields that are not snippets", function()
        assert.matches("YAML tag '!lua' is only allowed on a Lua snippet field",
            load_error("policy:\n  version: !lua function() end\n"), 1, true)
    end)
end)

describe("notifications and cost functions", function()
    local POLICY2 = [==[
policy:
  lua: |
    RATES = { sonnet = { input = 0.000003, output = 0.000015 } }
  credits:
    token:
      overhead_cost: 0.000003
      overhead: |
        function(units, ctx)
          local r = ctx and RATES[ctx.model]
          if r == nil then return units * 0.000003 end
          return (ctx.input or 0) * r.input + (ctx.output or 0) * r.output
        end
    flaky:
      overhead_cost: 0.5
      overhead: "function(units) error('no rates') end"
  plans:
    p:
      entitlements:
        chat: {limit: {credit: token, value: 100000}}
        other: {limit: {credit: flaky, value: 100}}
  notifications:
    low_tokens:
      matches: |
        function(type, event)
          return type == "meter-changed" and event.entitlement == "chat"
            and event.remaining < 1000
        end
    big_call:
      matches: "function(type, event) return type == 'meter-changed' and event.meter.diff >= 50000 end"
      fire: "function(event, name) App.alert(name, event.meter.diff) end"
  handlers:
    low_tokens: "function(event) App.warn(event.customer.id, event.remaining) end"
]==]

    it("computes the overhead with the cost function, or units * overhead_cost", function()
        local e = H.engine(POLICY2)
        local changed = {}
        e:on("meter-changed", function(ev) changed[#changed + 1] = H.keep(ev) end)
        e:create_customer("a", "p")
        assert.is_true(e:allow("a", "chat", 1200, { event = { model = "sonnet", input = 1000, output = 200 } }))
        assert.are.equal(0.006, changed[1].meter.overhead_diff)
        assert.is_true(e:allow("a", "chat", 1200))
        assert.are.equal(0.0036, changed[2].meter.overhead_diff)
        assert.are.equal(0.0096, changed[2].meter.overhead)
        assert.is_true(e:allow("a", "chat", 0, { overhead = 0.25 }))  -- actual cost, no units
        assert.are.equal(0.25, changed[3].meter.overhead_diff)
        assert.are.equal(0.2596, e:customer("a").meters.chat.overhead)
    end)

    it("falls back to units * overhead_cost and fires error when the cost function fails", function()
        local e = H.engine(POLICY2)
        local errors, changed = H.errors(e), {}
        e:on("meter-changed", function(ev) changed[#changed + 1] = H.keep(ev) end)
        e:create_customer("a", "p")
        assert.is_true(e:allow("a", "other", 4))
        assert.are.equal(2, changed[1].meter.overhead_diff)
        assert.are.equal("credits.flaky.overhead", errors[1].path)
        assert.matches("no rates", errors[1].message)
    end)

    it("takes from a cost function only what opts.overhead may be: runes >= 0, at most 1e20", function()
        for result, message in pairs({
            ["-1"] = "must return runes >= 0 and at most 1e20, not %-1",
            ["1e30"] = "must return runes >= 0 and at most 1e20, not 1e%+30",
            ["0/0"] = "must return runes >= 0 and at most 1e20, not %-?nan",
            ["'5'"] = "must return a number" }) do
            local e = H.engine(([[
policy:
  credits:
    odd: {overhead_cost: 0.5, overhead: "function(units) return %s end"}
  plans: {p: {entitlements: {x: {limit: {credit: odd, value: 100}}}}}
]]):format(result))
            local errors, changed = H.errors(e), {}
            e:on("meter-changed", function(ev) changed[#changed + 1] = H.keep(ev) end)
            e:create_customer("a", "p")
            assert.is_true(e:allow("a", "x", 4))
            assert.are.equal(2, changed[1].meter.overhead_diff, result)
            assert.matches(message, errors[1].message)
        end
    end)

    it("re-emits a matching event under the notification's name, or calls fire", function()
        local e = H.engine(POLICY2)
        local warns, alerts, seen = {}, {}, {}
        e:lib("App", "warn", function(id, remaining) warns[#warns + 1] = { id, remaining } end)
        e:lib("App", "alert", function(name, diff) alerts[#alerts + 1] = { name, diff } end)
        e:on("low_tokens", function(ev, name) seen[#seen + 1] = name end)
        e:create_customer("a", "p")
        assert.is_true(e:allow("a", "chat", 60000))
        assert.are.same({ { "big_call", 60000 } }, alerts)
        assert.are.same({}, warns)
        assert.is_true(e:allow("a", "chat", 39500))
        assert.are.same({ { "a", 500 } }, warns)
        assert.are.same({ "low_tokens" }, seen)
    end)

    it("refuses a notification named like a built-in event, or without matches", function()
        local _, err = limitr.new("policy:\n  notifications:\n    meter-changed: {matches: 'function() return true end'}\n")
        assert.matches("notifications.meter%-changed: 'meter%-changed' is a built%-in event name", err)
        _, err = limitr.new("policy:\n  notifications:\n    n: {}\n")
        assert.matches("notifications.n: missing required field 'matches'", err, 1, true)
    end)
end)

describe("the limitr helper table", function()
    it("reads the current customer's meters, read-only", function()
        local e = assert(limitr.new([[
policy:
  credits: {seat: {}, token: {}}
  plans:
    p:
      entitlements:
        seats: {limit: {credit: seat, value: 10}}
        tokens:
          limit:
            credit: token
            value: "function(c) local m = limitr.meter('seats') return 1000 * limitr.value('seats') + (m and m.limit or 0) end"
]]))
        e:create_customer("a", "p")
        assert.is_true(e:allow("a", "seats", 3))
        assert.are.equal(3010, e:limit("a", "tokens"))
        assert.is_true(e:allow("a", "seats", 1))
        assert.are.equal(4010, e:limit("a", "tokens"))
    end)
end)

describe("host functions called from decision snippets", function()
    it("cannot change the engine while the decision is open", function()
        local e = assert(limitr.new([[
policy:
  credits: {t: {}}
  plans:
    p:
      entitlements:
        chat:
          limit:
            credit: t
            value: 10
            on_exceed: "function(ctx) return App.decide(ctx.customer.id) end"
]]))
        local outcome = {}
        e:lib("App", "decide", function(id)
            outcome.delete = { e:delete_customer(id) }
            outcome.allow = { e:allow(id, "chat", 1) }
            outcome.value = e:value(id, "chat") -- reads are fine
            return true
        end)
        e:create_customer("a", "p")
        assert.is_true(e:allow("a", "chat", 11))
        assert.is_nil(outcome.delete[1])
        assert.are.equal(
            "delete_customer: the engine cannot be changed from inside a limit value, on_exceed or cost snippet",
            outcome.delete[2])
        assert.is_nil(outcome.allow[1])
        assert.are.equal(0, outcome.value)
        assert.are.equal(11, e:value("a", "chat"))
        assert.is_not_nil(e:customer("a"))
    end)
end)
