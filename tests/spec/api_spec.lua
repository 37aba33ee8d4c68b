-- The Lua API of the foundation: loading, customers, decisions, reads,
-- events and host functions, and every bad-input path.
local limitr = require "limitr"
local H = require "helpers"

local POLICY = [[
policy:
  credits:
    seat: {label: Seat, unit: seat}
    token: {}
  plans:
    free:
      default: true
      entitlements:
        seats: {limit: {credit: seat, value: 1, increment: 1}}
        export_csv: {}
        chat: {limit: {credit: token, value: 0.3}}
    paid:
      entitlements:
        seats: {limit: {credit: seat, value: 3, increment: 1}}
]]

local function engine()
    return H.engine(POLICY)
end

describe("limitr.new / limitr.load", function()
    it("loads YAML and JSON, detecting the format", function()
        assert.is_not_nil(limitr.new(POLICY))
        assert.is_not_nil(limitr.new('{"policy": {"plans": {"a": {}}}}', "json"))
        assert.is_not_nil(limitr.new('{"policy": {"plans": {"a": {}}}}'))
    end)

    it("returns nil and the validation error with path, suggestion and position", function()
        local err = H.fails("invalid_policy",
            limitr.new(POLICY:gsub("credit: seat, value: 1", "credit: seet, value: 1"), "yaml"))
        assert.are.equal(
            "plans.free.entitlements.seats.limit.credit: unknown credit 'seet' (did you mean 'seat'?) at 9:33",
            err)
    end)

    it("reports every problem, one per line", function()
        local _, err = limitr.new([[
policy:
  credits: {seat: {labl: x}}
  plans:
    p:
      entitlements:
        e: {limit: {credit: seat, increment: -1, value: "ten"}}
]])
        assert.are.equal(table.concat({
            "credits.seat: unknown field 'labl' (did you mean 'label'?) at 2:20",
            "plans.p.entitlements.e.limit.increment: must be greater than 0, got -1 at 6:46",
            "plans.p.entitlements.e.limit.value: expected a number with an optional unit, got 'ten' at 6:57",
        }, "\n"), err)
    end)

    it("rejects duplicate keys, anchors, unknown tags, deep nesting and bad JSON", function()
        local _, err = limitr.new("policy:\n  plans: {}\n  plans: {}\n")
        assert.are.equal("policy: duplicate key 'plans' at 3:3", err)
        _, err = limitr.new("policy:\n  credits: &a {}\n  plans: *a\n")
        assert.matches("YAML anchors and aliases are not allowed", err, 1, true)
        _, err = limitr.new("policy:\n  version: !!str 1\n")
        assert.matches("YAML tag '!!str' is not allowed", err, 1, true)
        _, err = limitr.new("policy: " .. ("["):rep(40) .. ("]"):rep(40))
        assert.matches("nesting deeper than 32 levels", err, 1, true)
        _, err = limitr.new('{"policy": {"plans": {},}}', "json")
        assert.matches("^%(document%): JSON syntax error", err)
        _, err = limitr.new("policy: [", "yaml")
        assert.matches("^%(document%): YAML syntax error", err)
    end)

    it("rejects an unknown format and wrong argument types", function()
        assert.are.equal([[unknown format 'toml' (use "yaml" or "json")]],
            H.fails("invalid_argument", limitr.new(POLICY, "toml")))
        assert.has_error(function() limitr.new(nil) end,
            "bad argument #1 to 'new' (string expected, got nil)")
        assert.has_error(function() limitr.new(POLICY, 5) end,
            "bad argument #2 to 'new' (string or nil expected, got number)")
    end)

    it("loads a file, or says why not", function()
        local root = H.root()
        assert.is_not_nil(limitr.load(root .. "/examples/seats.yaml"))
        assert.matches("cannot open '.*nope.yaml': No such file or directory",
            H.fails("not_found", limitr.load(root .. "/nope.yaml")))
        assert.has_error(function() limitr.load({}) end)
    end)
end)

describe("customers", function()
    it("creates, reads, updates and deletes", function()
        local e = engine()
        local snap = e:create_customer("c1", "paid", { type = "org", label = "Acme",
                                                       metadata = { seats = 4, tags = { "a", "b" } } })
        assert.are.equal("c1", snap.id)
        assert.are.equal("paid", snap.plan)
        assert.are.equal("org", snap.type)
        assert.are.same({ seats = 4, tags = { "a", "b" } }, snap.metadata)
        assert.are.same({ credit = "seat", value = 0, limit = 3, remaining = 3, overhead = 0,
                          started = snap.created }, snap.meters.seats)
        assert.is_true(e:increment("c1", "seats"))
        snap = e:add_customer("c1", "free") -- alias; an update keeps meters
        assert.are.equal("free", snap.plan)
        assert.are.equal("org", snap.type)
        assert.are.equal(1, snap.meters.seats.value)
        assert.are.same(snap, e:customer("c1"))
        assert.is_true(e:delete_customer("c1"))
        H.fails("unknown_customer", e:customer("c1"))
        H.fails("unknown_customer", e:delete_customer("c1"))
    end)

    it("takes the default plan, or says unknown_plan / no_plan", function()
        local e = engine()
        assert.are.equal("free", e:create_customer("c").plan)
        assert.are.same({ nil, "unknown plan", "unknown_plan" },
                        { e:create_customer("d", "nope") })
        local nd = assert(limitr.new("policy: {plans: {a: {}}}"))
        local ok, err, code = nd:create_customer("x")
        assert.is_nil(ok)
        assert.are.equal("the customer has no plan and the policy no default plan", err)
        assert.are.equal("no_plan", code)
    end)

    it("rejects bad ids and options", function()
        local e = engine()
        local ok, err = e:create_customer("", "free")
        assert.is_nil(ok)
        assert.matches("the id must be 1 to 1024 bytes of UTF-8", err, 1, true)
        assert.has_error(function() e:create_customer("c", "free", { colour = "red" }) end) -- options_spec
        ok, err = e:create_customer("c", "free", { type = 5 })
        assert.is_nil(ok)
        assert.matches("option 'type' must be a non%-empty string", err)
        assert.has_error(function() e:create_customer(true, "free") end)
        assert.has_error(function() e:create_customer("c", {}) end)
        assert.has_error(function() e:create_customer("c", "free", "opts") end)
        assert.has_error(function() e:create_customer("a\0b", "free") end)
        local cyclic = {}
        cyclic.self = cyclic
        assert.has_error(function() e:create_customer("c", "free", { metadata = cyclic }) end)
        assert.has_error(function() e:create_customer("c", "free", { metadata = { f = print } }) end)
        assert.is_nil(e:customer("c")) -- nothing was created by the failed calls
        assert.are.equal("5", e:create_customer(5, "free").id) -- numbers convert
    end)
end)

describe("decisions", function()
    it("allows within the hard limit and denies past it, with a reason", function()
        local e = engine()
        e:create_customer("c", "paid")
        assert.is_true(e:allow("c", "seats", 2))
        assert.is_true(e:check("c", "seats", 1))
        assert.are.same({ false, "limit" }, { e:check("c", "seats", 2) })
        assert.are.same({ false, "limit" }, { e:allow("c", "seats", 2) })
        assert.are.equal(2, e:value("c", "seats"))
        assert.are.equal(1, e:remaining("c", "seats"))
        assert.are.equal(3, e:limit("c", "seats"))
        assert.is_true(e:increment("c", "seats"))
        assert.are.same({ false, "limit" }, { e:increment("c", "seats") })
        assert.is_true(e:decrement("c", "seats"))
        assert.are.equal(2, e:value("c", "seats"))
        assert.is_true(e:allow("c", "seats", -5)) -- decreases are never denied
        assert.are.equal(-3, e:value("c", "seats"))
    end)

    it("adds fractions exactly", function()
        local e = engine()
        e:create_customer("c")
        assert.is_true(e:allow("c", "chat", 0.1))
        assert.is_true(e:allow("c", "chat", 0.2))
        assert.are.equal(0.3, e:value("c", "chat"))
        assert.are.same({ false, "limit" }, { e:allow("c", "chat", 1e-9) })
    end)

    it("treats an entitlement without a limit as a feature flag", function()
        local e = engine()
        e:create_customer("c")
        assert.is_true(e:allow("c", "export_csv", 1e12))
        assert.are.same({ false, "not_metered" }, { e:increment("c", "export_csv") })
        assert.are.equal(0, e:value("c", "export_csv"))
        assert.is_nil(e:limit("c", "export_csv"))
        assert.is_nil(e:remaining("c", "export_csv"))
    end)

    it("never raises for an unknown customer or entitlement", function()
        local e = engine()
        e:create_customer("c")
        assert.are.same({ false, "unknown_customer" }, { e:allow("nobody", "seats", 1) })
        assert.are.same({ false, "unknown_entitlement" }, { e:allow("c", "nope", 1) })
        assert.are.same({ false, "unknown_customer" }, { e:increment("nobody", "seats") })
        assert.are.same({ false, "unknown_customer" }, { e:check("nobody", "seats") })
        assert.is_nil(e:value("nobody", "seats"))
        assert.is_nil(e:value("c", "nope"))
    end)

    it("answers invalid_value for values that are not numbers", function()
        local e = engine()
        e:create_customer("c")
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "seats", "ten") })
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "seats", math.huge) })
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "seats", 0 / 0) })
        assert.are.same({ false, "invalid_value" }, { e:check("c", "seats", "ten") })
        assert.is_true(e:allow("c", "seats", "1"))
        assert.are.equal(1, e:value("c", "seats"))
    end)

    it("raises on wrong argument types", function()
        local e = engine()
        e:create_customer("c")
        assert.has_error(function() e:allow(nil, "seats", 1) end)
        assert.has_error(function() e:allow("c", {}, 1) end)
        assert.are.same({ false, "unknown_entitlement" }, { e:allow("c", 5, 1) }) -- as luaL_checkstring
        assert.has_error(function() e:allow("c", "seats", {}) end)
        assert.has_error(function() e:allow("c", "seats", true) end)
        assert.has_error(function() e:allow("c", "seats", 1, "opts") end)
        assert.has_error(function() e:value("c") end)
        assert.has_error(function() e.allow(nil, "c", "seats", 1) end)
        assert.has_error(function() e:on("meter-changed", "not a function") end)
        assert.has_error(function() e:lib("App", "x", 5) end)
        assert.has_error(function() e:lib("App", {}, function() end) end)
        assert.has_error(function() e:set_time("soon") end)
        assert.are.equal(0, e:value("c", "seats")) -- nothing moved
    end)

    it("refuses a closed engine", function()
        local e = engine()
        e:close()
        e:close() -- twice is fine
        assert.has_error(function() e:allow("c", "seats", 1) end)
        assert.matches("closed", tostring(e))
    end)
end)

describe("events", function()
    it("fires meter-changed and meter-limit with the spec's payload", function()
        local e = engine()
        local seen = {}
        e:create_customer("c", "free")
        e:on("*", function(ev, name) seen[#seen + 1] = { name = name, ev = H.keep(ev) } end)
        assert.is_true(e:increment("c", "seats", { event = { request = "r1" } }))
        assert.are.same({ "meter-changed" }, { seen[1].name })
        local ev = seen[1].ev
        assert.are.equal("c", ev.customer.id)
        assert.are.equal("free", ev.plan)
        assert.are.equal("seats", ev.entitlement)
        assert.are.equal("seat", ev.credit.name)
        assert.are.same({ request = "r1" }, ev.event_data)
        assert.are.same({ old = 0, value = 1, limit = 1, diff = 1, overhead = 0, overhead_diff = 0 }, ev.meter)
        assert.are.equal(0, ev.remaining)

        assert.are.same({ false, "limit" }, { e:allow("c", "seats", 2) })
        ev = seen[2].ev
        assert.are.equal("meter-limit", seen[2].name)
        assert.are.equal(3, ev.invalid_value)
        assert.are.equal(2, ev.overage)
        assert.are.equal("limit", ev.reason)
        assert.are.same({ value = 1, limit = 1, diff = 2, invalid = 3, overhead = 0, overhead_diff = 0 }, ev.meter)
        assert.are.equal(1, ev.customer.meters.seats.value)
    end)

    it("fires nothing for check, gate failures, no-ops and event = false", function()
        local e = engine()
        local count = 0
        e:create_customer("c", "paid")
        e:on("*", function() count = count + 1 end)
        e:check("c", "seats", 1)
        e:allow("nobody", "seats", 1)
        e:allow("c", "seats", 0)
        e:allow("c", "seats", 1, { event = false })
        e:allow("c", "seats", 9, { event = false })
        assert.are.equal(0, count)
        assert.are.equal(1, e:value("c", "seats"))
    end)

    it("fires customer-set and customer-removed", function()
        local e = engine()
        local names = {}
        e:on("customer-set", function(ev, name) names[#names + 1] = name .. ":" .. ev.id end)
        e:on("customer-removed", function(ev, name) names[#names + 1] = name .. ":" .. ev.id end)
        e:create_customer("a")
        e:create_customer("a", "paid")
        e:delete_customer("a")
        assert.are.same({ "customer-set:a", "customer-set:a", "customer-removed:a" }, names)
    end)

    it("unsubscribes with off, and rejects unknown event names", function()
        local e = engine()
        local count = 0
        e:create_customer("c", "paid")
        local sub = e:on("meter-changed", function() count = count + 1 end)
        e:increment("c", "seats")
        assert.is_true(e:off(sub))
        H.fails("no_subscription", e:off(sub))
        e:increment("c", "seats")
        assert.are.equal(1, count)
        assert.are.equal("on: unknown event 'meter-chnged' (did you mean 'meter-changed'?)",
            H.fails("invalid_argument", e:on("meter-chnged", function() end)))
        -- a notification's name is an event name: suggested too
        local n = assert(limitr.new([[
policy:
  credits: {t: {}}
  notifications:
    low_tokens: {matches: "function(type, event) return false end"}
  plans: {p: {default: true}}
]]))
        assert.are.equal("on: unknown event 'low_token' (did you mean 'low_tokens'?)",
            H.fails("invalid_argument", n:on("low_token", function() end)))
        assert.matches("must be identifiers",
            H.fails("invalid_argument", e:lib("App", "bad-name", function() end)))
    end)

    it("lets go of a callback on off, on its replacement and on close", function()
        local weak = setmetatable({}, { __mode = "k" })
        -- a new function, known only to the engine and to `weak`
        local function held_by(register)
            local n = 0
            local fn = function() n = n + 1 end
            weak[fn] = true
            return register(fn)
        end
        local function count()
            collectgarbage()
            collectgarbage()
            local n = 0
            for _ in pairs(weak) do n = n + 1 end
            return n
        end
        local e = engine()
        local errors = H.errors(e)
        e:create_customer("c", "paid")
        local sub = held_by(function(fn) return e:on("meter-changed", fn) end)
        held_by(function(fn) return e:lib("App", "meter_changed", fn) end)
        assert.are.equal(2, count())
        assert.is_true(e:off(sub))
        assert.are.equal(1, count())
        held_by(function(fn) return e:lib("App", "meter_changed", fn) end) -- replaces
        assert.are.equal(1, count())
        -- a subscriber that offs itself while it runs is let go after it returns
        local self_sub
        self_sub = held_by(function(fn)
            return e:on("meter-changed", function(...) fn(...) assert(e:off(self_sub)) end)
        end)
        assert.are.equal(2, count())
        assert.is_true(e:increment("c", "seats"))
        assert.are.same({}, errors)
        assert.are.equal(1, count())
        held_by(function(fn) return e:on("*", fn) end)
        assert.are.equal(2, count())
        e:close()
        assert.are.equal(0, count())
    end)

    it("turns a raising subscriber into an error event and goes on", function()
        local e = engine()
        local errors, after = {}, 0
        e:create_customer("c", "paid")
        e:on("error", function(ev) errors[#errors + 1] = ev end)
        e:on("meter-changed", function() error("boom") end)
        e:on("meter-changed", function() after = after + 1 end)
        assert.is_true(e:increment("c", "seats"))
        assert.are.equal(1, after)
        assert.are.equal(1, #errors)
        assert.matches("boom", errors[1].message)
        assert.are.equal("on:meter-changed", errors[1].path)
    end)

    it("lets handlers call the engine, and keeps the decision's reason", function()
        local e = engine()
        e:create_customer("c", "free")
        e:increment("c", "seats")
        e:on("meter-limit", function(ev)
            assert.are.equal(1, e:value(ev.customer.id, "seats"))
            e:create_customer("other", "paid")
        end)
        assert.are.same({ false, "limit" }, { e:increment("c", "seats") })
        assert.is_not_nil(e:customer("other"))
        e:on("meter-changed", function() e:close() end)
        local errors = {}
        e:on("error", function(ev) errors[#errors + 1] = ev.message end)
        assert.is_true(e:increment("other", "seats"))
        assert.matches("cannot close the engine from inside one of its callbacks", errors[1])
    end)

    it("calls App host functions registered with lib", function()
        local e = engine()
        local limits, all = {}, {}
        e:create_customer("c", "free")
        e:lib("App", "meter_limit", function(record) limits[#limits + 1] = record end)
        e:lib("App", "event_handler", function(name, record) all[#all + 1] = name end)
        e:increment("c", "seats")
        e:increment("c", "seats")
        assert.are.equal(1, #limits)
        assert.are.equal(2, limits[1].invalid_value)
        assert.are.same({ "meter-changed", "meter-limit" }, all)
        local errors = {}
        e:on("error", function(ev) errors[#errors + 1] = ev end)
        e:lib("App", "meter_limit", function() error("app down") end)
        e:increment("c", "seats")
        assert.matches("app down", errors[1].message)
        assert.are.equal("lib:App.meter_limit", errors[1].path)
    end)
end)

describe("clock", function()
    it("is the system clock until set, then moves only when told", function()
        local e = engine()
        assert.is_true(e:now() > 1700000000000)
        e:set_time(1000)
        e:advance(250)
        assert.are.equal(1250, e:now())
        assert.are.equal(1250, e:create_customer("c").created)
    end)
end)

describe("a room read back", function()
    it("fits: check(remaining) and check(allowance) pass on large amounts with decimals", function()
        local e = assert(limitr.new([[
policy:
  credits: {token: {}}
  plans: {p: {default: true, entitlements: {chat: {limit: {credit: token, value: 369726324.772727272727}}}}}
]]))
        assert(e:create_customer("u"))
        -- the nearest double (…772731) is 3.7e-8 above the room: the read
        -- gives the double below it
        local r = e:remaining("u", "chat")
        assert.is_true(r <= 369726324.772727272727)
        assert.is_true(e:check("u", "chat", r))
        assert.is_true(e:check("u", "chat", e:allowance("u", "chat")))
        local _, _, _, remaining = e:decide("u", "chat", 0)
        assert.is_true(e:check("u", "chat", remaining))
        assert.is_true(e:allow("u", "chat", r))
        assert.are.same({ false, "limit" }, { e:check("u", "chat", 1e-6) })
    end)
end)
