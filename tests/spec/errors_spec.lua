-- errors_spec: the two answer shapes of the Lua binding, method by method
-- (README, "Lua"): a decision answers true, or false, reason, or nil, err,
-- code when it could not be made; every other method a value or nil, err,
-- code. A wrong argument type raises.
local limitr = require "limitr"
local H = require "helpers"

local fails, pack = H.fails, H.pack

local POLICY = [=[
policy:
  credits: {t: {}, s: {}}
  plans:
    p:
      default: true
      entitlements:
        api: {limit: {credit: t, value: 10, increment: 1}}
        daily: {limit: {credit: t, value: 10, resets: true, reset_inc: 1day}}
        watch: {limit: {credit: t, mode: observe}}
        org_seats: {scope: org, limit: {credit: s, value: 2}}
        flag: {}
        gov:
          limit: {credit: t, value: 100, governor_enabled: true, governor_capacity: 5,
                  governor_refill_rate: 0.001}
        broken: {limit: {credit: t, value: "function() error('boom') end"}}
        quoted:
          limit:
            credit: t
            value: 1
            on_exceed: "function(ctx) return false, 'say \"no\" \\\\ twice' end"
        busy:
          limit: {credit: t, value: 1, on_exceed: "function(ctx) return App.busy(ctx.customer.id) end"}
    other: {entitlements: {api: {limit: {credit: t, value: 1}}}}
]=]

local function engine()
    return H.engine(POLICY, 1000, "c", "p")
end

-- One decision's results: true alone, or false and the reason alone.
local function passes(...)
    assert.are.same({ n = 1, true }, pack(...))
end

local function refused(reason, ...)
    assert.are.same({ n = 2, false, reason }, pack(...))
end

describe("limitr.new and limitr.load", function()
    it("return an engine, or nil, err, code", function()
        local e = limitr.new(POLICY)
        assert.are.equal("userdata", type(e))
        assert.matches("unknown credit 'x'",
            fails("invalid_policy", limitr.new("policy: {plans: {a: {entitlements: {e: {limit: {credit: x}}}}}}")))
        fails("invalid_argument", limitr.new(POLICY, "toml"))
        assert.matches("cannot open", fails("not_found", limitr.load("/nonexistent/policy.yaml")))
        assert.are.equal("userdata", type(limitr.load(H.root() .. "/examples/seats.yaml")))
    end)

    it("raise on a wrong argument type or an unknown option", function()
        assert.has_error(function() limitr.new(5) end, "bad argument #1 to 'new' (string expected, got number)")
        assert.has_error(function() limitr.new(POLICY, {}) end)
        assert.has_error(function() limitr.new(POLICY, nil, "opts") end)
        assert.has_error(function() limitr.new(POLICY, nil, { colour = 1 }) end)
        assert.has_error(function() limitr.load(nil) end, "bad argument #1 to 'load' (string expected, got nil)")
    end)
end)

describe("decisions (allow, check, increment, decrement)", function()
    it("answer true alone", function()
        local e = engine()
        passes(e:allow("c", "api", 1))
        passes(e:check("c", "api", 1))
        passes(e:increment("c", "api"))
        passes(e:decrement("c", "api"))
        passes(e:allow("c", "flag", 1e9))
        passes(e:allow("c", "watch", 1e9))
    end)

    it("answer false, reason for the policy's no", function()
        local e = engine()
        for _, m in ipairs({ "allow", "check" }) do
            refused("limit", e[m](e, "c", "api", 11))
            refused("governor", e[m](e, "c", "gov", 6))
            refused('say "no" \\ twice', e[m](e, "c", "quoted", 2)) -- an on_exceed reason
        end
        refused("not_metered", e:increment("c", "flag"))
        refused("not_metered", e:decrement("c", "flag"))
        assert.is_true(e:allow("c", "api", 10))
        refused("limit", e:increment("c", "api"))
    end)

    it("answer false, reason when gates 1-3 fail or the value is invalid", function()
        local e = engine()
        local no_default = H.engine("policy: {plans: {a: {entitlements: {f: {}}}}}")
        for _, m in ipairs({ "allow", "check", "increment", "decrement" }) do
            -- (a value for allow and check; increment and decrement take none)
            local v = (m == "allow" or m == "check") and 1 or nil
            refused("unknown_customer", e[m](e, "nobody", "api", v))
            refused("unknown_entitlement", e[m](e, "c", "nope", v))
            refused("no_scope_customer", e[m](e, "c", "org_seats", v))
            -- a customer whose plan was its ref's, the ref gone, and no default
            no_default:create_customer("o", "a")
            no_default:create_customer("u", nil, { refs = { "o" } })
            no_default:delete_customer("o")
            refused("no_plan", no_default[m](no_default, "u", "f", v))
        end
        for _, m in ipairs({ "allow", "check" }) do
            refused("invalid_value", e[m](e, "c", "api", 0 / 0))
            refused("invalid_value", e[m](e, "c", "api", math.huge))
            refused("invalid_value", e[m](e, "c", "api", "ten"))
            refused("invalid_value", e[m](e, "c", "api", "2 parsecs"))
        end
    end)

    it("answer false, \"error\" when the limit value snippet fails", function()
        local e = engine()
        local errors = H.errors(e)
        refused("error", e:allow("c", "broken", 1))
        refused("error", e:check("c", "broken", 1))
        refused("error", e:increment("c", "broken"))
        assert.are.equal(3, #errors)
        assert.matches("boom", errors[1].message)
    end)

    it("answer nil, err, code when no decision can be made (engine_busy)", function()
        local e = engine()
        local inside = {}
        -- on_exceed runs in the middle of the decision: changes are refused
        e:lib("App", "busy", function(id)
            inside.allow = pack(e:allow(id, "api", 1))
            inside.increment = pack(e:increment(id, "api"))
            inside.advance = pack(e:advance(2 * 86400000))
            inside.set_time = pack(e:set_time(0))
            return false
        end)
        refused("on_exceed", e:allow("c", "busy", 2)) -- its false, without a reason
        assert.matches("the clock cannot move from inside", inside.advance[2])
        assert.are.equal(1000, e:now()) -- the clock stayed
        for _, r in pairs({ inside.allow, inside.increment, inside.advance, inside.set_time }) do
            assert.are.equal(3, r.n)
            fails("engine_busy", r[1], r[2], r[3])
            assert.matches("from inside", r[2])
        end
        assert.are.equal(0, e:value("c", "api"))
    end)

    it("raise on wrong argument types", function()
        local e = engine()
        for _, m in ipairs({ "allow", "check", "increment", "decrement" }) do
            assert.has_error(function() e[m](e, nil, "api") end)
            assert.has_error(function() e[m](e, "c", {}) end)
            assert.has_error(function() e[m](nil, "c", "api") end)
        end
        assert.has_error(function() e:allow("c", "api", true) end)
        assert.has_error(function() e:check("c", "api", {}) end)
        assert.has_error(function() e:allow("c", "api", 1, "opts") end)
        assert.has_error(function() e:increment("c", "api", 5) end)
    end)
end)

describe("everything else: a value, or nil, err, code", function()
    it("create_customer and customer", function()
        local e = engine()
        assert.are.equal("c", e:customer("c").id)
        assert.are.equal("n", e:create_customer("n", "other").id)
        assert.are.equal("unknown plan", fails("unknown_plan", e:create_customer("d", "gold")))
        fails("no_plan", H.engine("policy: {plans: {a: {}}}"):create_customer("x"))
        assert.has_error(function() e:create_customer("d", "p", { colour = 1 }) end) -- a bad option raises
        fails("invalid_argument", e:create_customer("", "p"))
        assert.are.equal("unknown customer (no customer has this ID or alt ID)",
            fails("unknown_customer", e:customer("nobody")))
    end)

    it("delete_customer, set_customer_refs, set_customer_plan", function()
        local e = engine()
        e:create_customer("d", "p")
        assert.are.same({ n = 1, true }, pack(e:delete_customer("d")))
        fails("unknown_customer", e:delete_customer("d"))
        assert.are.same({ n = 1, true }, pack(e:set_customer_refs("c", {})))
        fails("unknown_customer", e:set_customer_refs("nobody", {}))
        assert.are.same({ n = 1, true }, pack(e:set_customer_plan("c", "other")))
        fails("same_plan", e:set_customer_plan("c", "other"))
        fails("unknown_plan", e:set_customer_plan("c", "gold"))
        fails("unknown_customer", e:set_customer_plan("nobody", "p"))
    end)

    it("set_alt_customer_id and delete_alt_customer_id", function()
        local e = engine()
        e:create_customer("b", "p")
        assert.are.same({ n = 1, true }, pack(e:set_alt_customer_id("c", "alt")))
        fails("alt_id_in_use", e:set_alt_customer_id("b", "alt"))
        fails("unknown_customer", e:set_alt_customer_id("nobody", "z"))
        assert.are.same({ n = 1, true }, pack(e:delete_alt_customer_id("alt")))
        assert.are.equal("no customer has this alt ID", fails("unknown_alt_id", e:delete_alt_customer_id("alt")))
    end)

    it("create_customer_override and remove_customer_override", function()
        local e = engine()
        assert.are.equal(50, e:create_customer_override("c", "api", { value = 50 }).value)
        fails("unknown_customer", e:create_customer_override("nobody", "api", { value = 1 }))
        fails("unknown_entitlement", e:create_customer_override("c", "nope", { value = 1 }))
        assert.matches("must not be negative", fails("invalid_argument",
            e:create_customer_override("c", "api", { value = -1 })))
        assert.are.same({ n = 1, true }, pack(e:remove_customer_override("c", "api")))
        fails("no_override", e:remove_customer_override("c", "api"))
        fails("unknown_customer", e:remove_customer_override("nobody", "api"))
    end)

    it("reads: a number, or nil, err, code that tells why there is none", function()
        local e = engine()
        e:allow("c", "api", 4)
        assert.are.same({ n = 1, 4 }, pack(e:value("c", "api")))
        assert.are.same({ n = 1, 6 }, pack(e:remaining("c", "api")))
        assert.are.equal(10, e:limit("c", "api"))
        assert.are.equal(10, e:limit("p", "api")) -- a plan name
        assert.are.equal(1, e:cost("c", "api"))
        assert.are.equal(6, e:allowance("c", "api"))
        assert.are.equal("number", type(e:rate("c", "api")))
        assert.are.equal("number", type(e:acceleration("c", "api")))
        assert.are.equal(1000 + 86400000, e:resets("c", "daily"))
        local reads = { "value", "remaining", "limit", "cost", "allowance", "rate", "acceleration",
                        "projected_exhaustion", "resets" }
        for _, m in ipairs(reads) do
            fails("unknown_customer", e[m](e, "nobody", "api"))
            fails("unknown_entitlement", e[m](e, "c", "nope"))
            fails("no_scope_customer", e[m](e, "c", "org_seats"))
        end
        assert.are.same({ n = 1, 0 }, pack(e:value("c", "flag"))) -- a flag's value is 0
        for _, m in ipairs({ "remaining", "limit", "cost", "allowance" }) do
            fails("not_metered", e[m](e, "c", "flag"))
        end
        fails("no_reset", e:resets("c", "flag"))
        for _, m in ipairs({ "remaining", "limit", "allowance" }) do
            fails("observe", e[m](e, "c", "watch"))
        end
        fails("no_projection", e:projected_exhaustion("c", "watch"))
        fails("no_reset", e:resets("c", "api"))
        fails("error", e:limit("c", "broken"))
        assert.has_error(function() e:value("c") end)
        assert.has_error(function() e:value("c", "api", "opts") end)
    end)

    it("explain: a table, whatever the decision", function()
        local e = engine()
        assert.is_true(e:explain("c", "api", 1).allowed)
        local x = e:explain("nobody", "api", 1)
        assert.are.same({ false, "customer", "unknown_customer" }, { x.allowed, x.gate, x.reason })
        assert.has_error(function() e:explain("c", {}) end)
    end)

    it("on, off, lib", function()
        local e = engine()
        local sub = e:on("meter-changed", function() end)
        assert.are.equal("number", type(sub))
        assert.matches("did you mean 'meter%-changed'",
            fails("invalid_argument", e:on("meter-chnged", function() end)))
        assert.are.same({ n = 1, true }, pack(e:off(sub)))
        assert.are.equal("no subscription has this id", fails("no_subscription", e:off(sub)))
        assert.are.same({ n = 1, true }, pack(e:lib("App", "f", function() end)))
        fails("invalid_argument", e:lib("App", "bad-name", function() end))
        assert.matches("name of the snippet sandbox", fails("invalid_argument", e:lib("string", "f", function() end)))
        assert.has_error(function() e:on("meter-changed", "nope") end)
        assert.has_error(function() e:off("x") end)
        assert.has_error(function() e:lib("App", "f") end)
    end)

    it("keeps nothing of a refused lib registration", function()
        local e = engine()
        local weak = setmetatable({}, { __mode = "v" })
        do
            local fn = function() end
            weak[1] = fn
            fails("invalid_argument", e:lib("string", "f", fn))
        end
        collectgarbage()
        collectgarbage()
        assert.is_nil(weak[1])
    end)

    it("the clock", function()
        local e = engine()
        assert.are.same({ n = 1, true }, pack(e:set_time(5000)))
        assert.are.same({ n = 1, true }, pack(e:advance(10)))
        assert.are.same({ n = 1, 5010 }, pack(e:now()))
        assert.has_error(function() e:set_time("soon") end)
        assert.has_error(function() e:advance(1.5) end)
    end)

    it("a closed engine raises", function()
        local e = engine()
        e:close()
        assert.has_error(function() e:customer("c") end)
        assert.has_error(function() e:value("c", "api") end)
        assert.has_error(function() e:off(1) end)
    end)
end)

describe("values crossing to the engine", function()
    it("reads a value one way for allow, check and explain", function()
        for _, v in ipairs({ "0x2", " 2 ", "\t2\n", "2" }) do
            local e = engine()
            assert.are.same({ n = 1, true }, pack(e:check("c", "api", v)), v)
            assert.is_true(e:explain("c", "api", v).allowed, v)
            assert.are.same({ n = 1, true }, pack(e:allow("c", "api", v)), v)
            assert.are.equal(2, e:value("c", "api"), v)
        end
        local e = engine()
        for _, v in ipairs({ "ten", "2 hours" }) do
            assert.are.same({ n = 2, false, "invalid_value" }, pack(e:check("c", "api", v)))
            assert.are.same({ n = 2, false, "invalid_value" }, pack(e:allow("c", "api", v)))
            assert.are.equal("invalid_value", e:explain("c", "api", v).reason)
        end
    end)

    it("refuses a value string with a NUL byte instead of cutting it", function()
        local e = engine()
        for _, call in ipairs({ "allow", "check", "explain" }) do
            assert.error_matches(function() e[call](e, "c", "api", "5\0garbage") end,
                "string contains a NUL byte", 1, true)
        end
        assert.are.equal(0, e:value("c", "api"))
    end)

    it("refuses what JSON cannot hold: NaN, infinity, NUL bytes", function()
        local e = engine()
        assert.has_error(function() e:create_customer("d", "p", { metadata = { x = 0 / 0 } }) end,
            "create_customer: metadata.x: NaN and infinity cannot cross as JSON")
        -- the place inside the value is named, lists by index
        assert.has_error(function() e:allow("c", "api", 1, { event = { a = { 1, { b = 0 / 0 } } } }) end,
            "opts.event: a[2].b: NaN and infinity cannot cross as JSON")
        assert.has_error(function() e:add_customer_cap("c", 0 / 0) end,
            "add_customer_cap: value: NaN and infinity cannot cross as JSON")
        assert.has_error(function() e:create_customer("d", "p", { metadata = { x = math.huge } }) end)
        assert.has_error(function() e:create_customer("d", "p", { metadata = { x = "a\0b" } }) end)
        assert.has_error(function() e:create_customer("d", "p", { metadata = { ["a\0b"] = 1 } }) end)
        assert.has_error(function() e:allow("c", "api", 1, { event = { n = -math.huge } }) end)
        assert.is_nil(e:customer("d"))
        assert.are.equal(0, e:value("c", "api"))
        fails("invalid_argument", e:create_customer("d", "p", { metadata = { x = "\xff" } }))
    end)
end)

describe("events that fire the engine again", function()
    it("stop 16 levels down, with event_depth and an error event", function()
        local e = engine()
        local answers, errors = {}, {}
        e:on("error", function(ev) errors[#errors + 1] = ev.message end)
        e:on("meter-changed", function()
            local answer = pack(e:allow("c", "api", 0.001))
            answers[#answers + 1] = answer -- the innermost call returns first
        end)
        assert.is_true(e:allow("c", "api", 1))
        assert.are.equal(16, #answers)
        assert.are.same({ n = 1, true }, answers[16])
        local last = answers[1]
        assert.are.equal(3, last.n)
        assert.is_nil(last[1])
        assert.matches("events nest more than 16 deep", last[2])
        assert.are.equal("event_depth", last[3])
        assert.are.equal(1, #errors)
    end)
end)

describe("host functions", function()
    it("can be removed: lib(lib, name, nil)", function()
        local e = engine()
        local calls, weak = 0, setmetatable({}, { __mode = "v" })
        do
            local fn = function() calls = calls + 1 end
            weak[1] = fn
            assert.is_true(e:lib("App", "meter_changed", fn))
        end
        assert.is_true(e:allow("c", "api", 1))
        assert.are.equal(1, calls)
        assert.is_true(e:lib("App", "meter_changed", nil))
        assert.is_true(e:allow("c", "api", 1))
        assert.are.equal(1, calls) -- no longer called
        collectgarbage()
        collectgarbage()
        assert.is_nil(weak[1]) -- and released
        local err = fails("unknown_lib", e:lib("App", "meter_changed", nil))
        assert.matches("no host function App.meter_changed to remove", err)
    end)
end)
