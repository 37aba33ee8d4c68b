-- grants_spec.lua: top-ups and grants (docs/engine.md 15, docs/policy.md 7)
-- from Lua, with their worked numbers.
local limitr = require "limitr"
local H = require "helpers"

local DAY = 86400000

local INCLUDED = [[
policy:
  credits:
    token: {price: {amount: 0.01}}
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 0}}
        closed: {limit: {credit: token, value: 0, grants_apply: false}}
        soft: {limit: {credit: token, value: 10, mode: soft}}
      topups:
        pack: {credit: token, value: 100, included: true}
        extra: {credit: token, value: 4, description: four more}
    other:
      entitlements:
        chat: {limit: {credit: token, value: 0}}
]]

describe("an included 100-token grant on a hard limit of 0", function()
    it("lets the limit run past its value while the grant lasts", function()
        local e = H.engine(INCLUDED, 0, "u1", "p")
        local seen = H.recorder(e, "^meter")
        assert.are.equal(100, e:credit_remaining("u1", "token"))
        assert.are.equal(100, e:limit("u1", "chat"))
        assert.are.equal(0, e:limit("u1", "chat", { grants = false }))
        assert.is_true(e:allow("u1", "chat", 60))
        assert.are.equal("meter-changed", seen[1].name)
        assert.are.equal(60, seen[1].ev.grant_value_applied)
        assert.are.equal(0, seen[1].ev.overage)
        assert.are.equal(40, e:remaining("u1", "chat"))
        assert.are.same({ false, "limit" }, { e:allow("u1", "chat", 50) })
        assert.are.equal("meter-limit", seen[2].name)
        assert.are.equal(110, seen[2].ev.invalid_value)
        assert.are.equal(50, seen[2].ev.overage)
        assert.are.equal(40, e:credit_remaining("u1", "token"))
        assert.is_true(e:allow("u1", "chat", 40))
        assert.are.same({}, e:customer("u1").grants) -- drained: removed
        assert.are.same({ false, "limit" }, { e:allow("u1", "chat", 1) })
    end)

    it("is kept out of a limit with grants_apply: false", function()
        local e = H.engine(INCLUDED, 0, "u1", "p")
        assert.are.same({ false, "limit" }, { e:allow("u1", "closed", 60) })
        assert.are.equal(0, e:limit("u1", "closed"))
        assert.are.equal(100, e:credit_remaining("u1", "token"))
    end)

    it("check decides as allow would and draws nothing", function()
        local e = H.engine(INCLUDED, 0, "u1", "p")
        assert.is_true(e:check("u1", "chat", 100))
        assert.is_false(e:check("u1", "chat", 101))
        assert.are.equal(100, e:credit_remaining("u1", "token"))
    end)

    it("reads percentages against the limit plus the grants", function()
        local e = H.engine(INCLUDED, 0, "u1", "p")
        assert.are.equal(100, e:remaining("u1", "chat", { percent = true }))
        assert.is_true(e:allow("u1", "chat", 25))
        assert.are.equal(75, e:remaining("u1", "chat", { percent = true }))
        assert.are.equal(25, e:value("u1", "chat", { percent = true }))
        assert.are.equal(100, e:value("u1", "chat", { percent = true, grants = false }))
    end)
end)

describe("a soft limit covered by a grant", function()
    it("bills only what the grant leaves", function()
        local e = H.engine(INCLUDED, 0, "u1", "other")
        assert(e:set_customer_plan("u1", "p"))
        -- grants: pack (100) is not what this example wants: a grant of 4
        local g = e:customer("u1").grants[1]
        assert(e:remove_customer_grant("u1", g.id))
        assert(e:add_customer_grant("u1", { credit = "token", value = 4 }))
        local seen = H.recorder(e, "^meter")
        assert.is_true(e:allow("u1", "soft", 8))
        assert.are.equal(0, seen[1].ev.meter.price_diff)
        assert.is_true(e:allow("u1", "soft", 5))
        assert.are.equal("meter-changed", seen[2].name)
        assert.are.equal(0, seen[2].ev.overage)
        assert.are.equal(3, seen[2].ev.grant_value_applied)
        assert.are.equal(0.03, seen[2].ev.meter.price_diff)
        assert.are.equal(1, e:credit_remaining("u1", "token"))
        assert.is_true(e:allow("u1", "soft", 4))
        assert.are.equal("meter-overage", seen[3].name)
        assert.are.equal(3, seen[3].ev.overage)
        assert.are.equal(1, seen[3].ev.grant_value_applied)
        assert.are.equal(0.03, seen[3].ev.overage_price)
        assert.are.equal(0.04, seen[3].ev.meter.price_diff)
        assert.are.same({}, e:customer("u1").grants)
    end)
end)

local EXCHANGED = [[
policy:
  credits:
    abstract: {}
    ai_input_token: {price: {amount: 0.000006}}
  exchange:
    abstract: {value: 1, currency: rune}
    ai_tokens: {value: 1.25, currency: abstract}
    ai_input_token: {value: 0.000006, currency: ai_tokens}
  plans:
    base:
      entitlements:
        ai_input: {limit: {credit: ai_input_token, value: 0}}
      topups:
        monthly: {credit: abstract, value: 10, included: true, resets: true}
]]

describe("a grant in another credit", function()
    it("pays through the exchange", function()
        local e = H.engine(EXCHANGED, 0, "b", "base")
        assert.are.equal(1333333.333333333, e:limit("b", "ai_input"))
        assert.are.equal(1333333.333333333, e:credit_remaining("b", "ai_input_token"))
        assert.is_true(e:allow("b", "ai_input", 200000))
        assert.are.equal(8.5, e:credit_remaining("b", "abstract"))
        assert.is_false(e:check("b", "ai_input", 1200000))
        assert.is_true(e:check("b", "ai_input", 1133333))
    end)

    it("refills each period (hard mode by default)", function()
        local e = H.engine(EXCHANGED, 0, "b", "base")
        assert.is_true(e:allow("b", "ai_input", 200000))
        e:set_time(30 * DAY)
        assert.are.equal(10, e:credit_remaining("b", "abstract"))
    end)
end)

local RESETTING = [[
policy:
  credits:
    t: {}
  plans:
    p:
      default: true
      entitlements:
        e: {limit: {credit: t, value: 0, resets: true, reset_inc: 1000days}}
      topups:
        roll: {credit: t, value: 100, included: true, resets: true, reset_mode: rollover,
               rollover_pct: 0.5, rollover_max: 40, max_balance: 130}
        add: {credit: t, value: 100, resets: true, reset_mode: add}
        capped: {credit: t, value: 100, resets: true, reset_mode: add, reset_catchup_cap: 2}
        short: {credit: t, value: 5, expires_after: 1day}
]]

describe("grant resets", function()
    it("roll over with their clamps (the three months of docs/policy.md 7)", function()
        local e = H.engine(RESETTING, 0, "c", "p")
        assert.is_true(e:allow("c", "e", 30))
        e:set_time(30 * DAY)
        assert.are.equal(130, e:credit_remaining("c", "t"))
        assert.is_true(e:allow("c", "e", 10))
        e:set_time(60 * DAY)
        assert.are.equal(130, e:credit_remaining("c", "t"))
        assert.is_true(e:allow("c", "e", 125))
        e:set_time(90 * DAY)
        assert.are.equal(102.5, e:credit_remaining("c", "t"))
    end)

    it("add up after idle periods, at most reset_catchup_cap at once", function()
        local e = H.engine(RESETTING, 0, "c", "p")
        local roll = e:customer("c").grants[1].id
        assert(e:remove_customer_grant("c", roll))
        assert(e:apply_customer_topup("c", "add"))
        assert.is_true(e:allow("c", "e", 30))
        e:set_time(95 * DAY)
        assert.are.equal(370, e:credit_remaining("c", "t"))
        local e2 = H.engine(RESETTING, 0, "c", "p")
        assert(e2:remove_customer_grant("c", e2:customer("c").grants[1].id))
        assert(e2:apply_customer_topup("c", "capped"))
        assert.is_true(e2:allow("c", "e", 30))
        e2:set_time(95 * DAY)
        assert.are.equal(270, e2:credit_remaining("c", "t"))
    end)

    it("move their period on with a catch-up cap of 0, refilling nothing", function()
        local e = H.engine(RESETTING, 0, "c", "p")
        assert(e:remove_customer_grant("c", e:customer("c").grants[1].id))
        assert(e:add_customer_grant("c", { id = "z", credit = "t", value = 10, resets = true,
            reset_inc = "1day", reset_mode = "add", reset_catchup_cap = 0 }))
        assert.is_true(e:allow("c", "e", 4))
        e:set_time(3 * DAY + 5)
        local g = e:customer("c").grants[1]
        assert.are.equal(6, g.value)
        assert.are.equal(3 * DAY, g.last_reset)
    end)

    it("expire after expires_after", function()
        local e = H.engine(RESETTING, 0, "c", "p")
        assert(e:remove_customer_grant("c", e:customer("c").grants[1].id))
        assert(e:apply_customer_topup("c", "short"))
        assert.are.equal(5, e:credit_remaining("c", "t"))
        assert.are.equal(DAY, e:customer("c").grants[1].expires_on)
        e:set_time(DAY)
        assert.are.equal(5, e:credit_remaining("c", "t"))
        e:set_time(DAY + 1)
        assert.are.equal(0, e:credit_remaining("c", "t"))
        assert.are.same({}, e:customer("c").grants)
        assert.is_false(e:allow("c", "e", 1))
    end)
end)

describe("the draw order", function()
    local function policy(strategy)
        return ([[
policy:
  credits:
    t: {}
  exchange:
    grant_strategy: %s
    t: {value: 1, currency: rune}
    cheap: {value: 0.5, currency: rune}
    dear: {value: 2, currency: rune}
  plans:
    p:
      default: true
      entitlements:
        e: {limit: {credit: t, value: 0}}
]]):format(strategy)
    end

    local function balances(e)
        local out = {}
        for _, g in ipairs(e:customer("c").grants) do out[g.id] = g.value end
        return out
    end

    it("takes the limit's own credit first, then the earliest expiry", function()
        local e = H.engine(policy("expires_first"), 0, "c", "p")
        assert(e:add_customer_grant("c", { id = "late", credit = "cheap", value = 10, expires_on = 5000 }))
        assert(e:add_customer_grant("c", { id = "soon", credit = "dear", value = 10, expires_on = 1000 }))
        assert(e:add_customer_grant("c", { id = "own", credit = "t", value = 1 }))
        assert.is_true(e:allow("c", "e", 3))
        assert.are.same({ soon = 9, late = 10 }, balances(e))
    end)

    it("takes the cheapest, or the most valuable, first", function()
        local e = H.engine(policy("cheapest_first"), 0, "c", "p")
        assert(e:add_customer_grant("c", { id = "d", credit = "dear", value = 10 }))
        assert(e:add_customer_grant("c", { id = "c", credit = "cheap", value = 10 }))
        assert.is_true(e:allow("c", "e", 1))
        assert.are.same({ d = 10, c = 8 }, balances(e))
        local v = H.engine(policy("valuable_first"), 0, "c", "p")
        assert(v:add_customer_grant("c", { id = "d", credit = "dear", value = 10 }))
        assert(v:add_customer_grant("c", { id = "c", credit = "cheap", value = 10 }))
        assert.is_true(v:allow("c", "e", 1))
        assert.are.same({ d = 9.5, c = 10 }, balances(v))
    end)

    it("spans grants when one is not enough", function()
        local e = H.engine(policy("expires_first"), 0, "c", "p")
        assert(e:add_customer_grant("c", { id = "a", credit = "t", value = 2 }))
        assert(e:add_customer_grant("c", { id = "b", credit = "usd", value = 5 }))
        assert.is_true(e:allow("c", "e", 4))
        assert.are.same({ b = 3 }, balances(e))
    end)
end)

describe("top-ups", function()
    it("apply_customer_topup adds a grant each call and says so", function()
        local e = H.engine(INCLUDED, 0, "u1", "p")
        local seen = H.recorder(e, "topup")
        assert.is_true(e:apply_customer_topup("u1", "extra"))
        assert.is_true(e:apply_customer_topup("u1", "extra"))
        assert.are.equal(108, e:credit_remaining("u1", "token"))
        assert.are.equal(2, #seen)
        assert.are.equal("customer-topup-granted", seen[1].name)
        assert.are.equal("extra", seen[1].ev.topup_name)
        assert.are.equal("p", seen[1].ev.plan_name)
        assert.are.equal(4, seen[1].ev.topup.value)
        assert.are.equal("u1", seen[1].ev.customer.id)
        H.fails("unknown_topup", e:apply_customer_topup("u1", "nope"))
        H.fails("unknown_customer", e:apply_customer_topup("ghost", "extra"))
    end)

    it("included ones follow the plan", function()
        local e = H.engine(INCLUDED, 0, "u1", "other")
        assert.are.equal(0, e:credit_remaining("u1", "token"))
        assert(e:set_customer_plan("u1", "p"))
        assert.are.equal(100, e:credit_remaining("u1", "token"))
        assert(e:set_customer_plan("u1", "other"))
        assert.are.equal(0, e:credit_remaining("u1", "token"))
        assert.are.same({}, e:customer("u1").grants)
    end)

    it("included_scopes keeps the pool on the org", function()
        local e = H.engine([[
policy:
  credits: {t: {}}
  plans:
    p:
      default: true
      entitlements:
        e: {limit: {credit: t, value: 0}}
        shared: {scope: org, limit: {credit: t, value: 0}}
      topups:
        pool: {credit: t, value: 50, included: true, included_scopes: [org]}
]], 0)
        assert(e:create_customer("acme", "p", { type = "org" }))
        assert(e:create_customer("bob", nil, { refs = { "acme" } }))
        assert.are.equal(50, e:credit_remaining("acme", "t"))
        assert.are.equal(0, e:credit_remaining("bob", "t"))
        assert.is_false(e:allow("bob", "e", 1))
        assert.is_true(e:allow("bob", "shared", 20))
        assert.are.equal(30, e:credit_remaining("acme", "t"))
        -- sold to bob, the pool would be a grant the next reconciliation
        -- removes: refused, nothing granted
        local err = H.fails("topup_not_for_type", e:apply_customer_topup("bob", "pool"))
        assert.matches("'pool'", err)
        assert.matches("'user'", err)
        assert.are.same({}, e:customer("bob").grants)
        assert.is_true(e:apply_customer_topup("acme", "pool"))
        assert.are.equal(80, e:credit_remaining("acme", "t"))
    end)

    it("remaining and limit count an owed top-up, as check and credit_remaining do", function()
        local P = [[
policy:
  credits:
    token: {price: {amount: 0.01}}
  plans:
    free:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 100}}
%s]]
        local e = H.engine(P:format(""), 0)
        assert(e:create_customer("u"))
        -- a reload adds an included top-up: owed, granted at the next draw
        assert(e:reload(P:format("      topups:\n        extra: {credit: token, value: 20, included: true}\n")))
        assert.are.equal(0, #e:customer("u").grants)
        assert.are.equal(20, e:credit_remaining("u", "token"))
        assert.are.equal(120, e:remaining("u", "chat"))
        assert.are.equal(120, e:limit("u", "chat"))
        assert.are.equal(100, e:limit("u", "chat", { grants = false }))
        assert.is_false(e:check("u", "chat", 121))
        assert.is_true(e:allow("u", "chat", 120))
        assert.are.equal(0, e:credit_remaining("u", "token"))
        assert.is_false(e:check("u", "chat", 1))
    end)

    it("a held grant stands for the top-up after a plan change through refs, and none follows it", function()
        local e = H.engine([[
policy:
  credits:
    token: {price: {amount: 0.01}}
  plans:
    a:
      entitlements:
        chat: {limit: {credit: token, value: 10}}
      topups:
        bonus: {credit: token, value: 5, included: true}
    b:
      extends: a
]], 0)
        assert(e:create_customer("org", "a", { type = "org" }))
        assert(e:create_customer("u", nil, { refs = { "org" } })) -- bonus granted on a
        assert(e:set_customer_plan("org", "b")) -- u resolves to b: its bonus stands
        assert.are.equal(15, e:remaining("u", "chat"))
        assert.is_true(e:allow("u", "chat", 15)) -- spends it
        assert.are.same({}, e:customer("u").grants)
        assert.are.same({ false, "limit" }, { e:allow("u", "chat", 1) })
    end)

    it("owed through refs: check and reads agree with allow, and a denial grants nothing", function()
        local e = H.engine([[
policy:
  credits: {token: {}}
  plans:
    p:
      entitlements: {chat: {limit: {credit: token, value: 0}}}
      topups: {pack: {credit: token, value: 100, included: true}}
    q:
      entitlements: {chat: {limit: {credit: token, value: 0}}}
      topups: {qpack: {credit: token, value: 100, included: true}}
]], 0)
        assert(e:create_customer("acme", "p", { type = "org" }))
        assert(e:create_customer("bob", nil, { refs = { "acme" } }))
        assert(e:set_customer_plan("acme", "q")) -- bob now owes qpack
        -- generated ids are numbered engine-wide: acme's is pack-1
        assert.are.equal("pack-2", e:customer("bob").grants[1].id) -- kept until written
        assert.are.equal(100, e:credit_remaining("bob", "token"))
        assert.are.equal(100, e:limit("bob", "chat"))
        assert.is_true(e:check("bob", "chat", 100))
        assert.is_false(e:check("bob", "chat", 101))
        assert.are.same({ false, "limit" }, { e:allow("bob", "chat", 101) })
        assert.are.equal("pack-2", e:customer("bob").grants[1].id) -- the denial wrote nothing
        assert.is_true(e:allow("bob", "chat", 10))
        local grants = e:customer("bob").grants
        assert.are.equal(1, #grants)
        assert.are.equal("qpack", grants[1].topup)
        assert.are.equal(90, grants[1].value)
    end)

    it("a plan including more than 32 top-ups is refused", function()
        local lines = {}
        for i = 1, 33 do lines[i] = ("        t%d: {credit: t, value: 1, included: true}"):format(i) end
        local _, err = limitr.new("policy:\n  credits: {t: {}}\n  plans:\n    p:\n      topups:\n" ..
            table.concat(lines, "\n") .. "\n")
        assert.is_truthy(err:find("plans.p: the plan includes 33 top-ups", 1, true), err)
    end)

    it("ensure_included_topups grants what is owed, once", function()
        local e = H.engine(INCLUDED, 0, "u1", "p")
        local seen = H.recorder(e, "customer%-set")
        assert.is_true(e:ensure_included_topups("u1"))
        assert.are.equal(0, #seen) -- nothing changed
        assert.is_true(e:allow("u1", "chat", 100)) -- drained and removed
        assert.is_true(e:ensure_included_topups("u1"))
        assert.are.equal(0, e:credit_remaining("u1", "token")) -- not again
        H.fails("unknown_customer", e:ensure_included_topups("ghost"))
        assert.has_error(function() e:ensure_included_topups("u1", { event = 1 }) end)
    end)

    it("a grant of the top-up kept through a plan change stands for the new plan's", function()
        local e = H.engine([[
policy:
  credits: {token: {}}
  plans:
    base:
      default: true
      topups:
        starter: {credit: token, value: 50, included: true}
      entitlements:
        chat: {limit: {credit: token, value: 0}}
    pro:
      extends: base
]], 0, "u", "pro")
        assert(e:set_customer_plan("u", "base"))
        assert.are.equal(50, e:credit_remaining("u", "token"))
        assert.is_false(e:check("u", "chat", 60))
        assert.is_true(e:allow("u", "chat", 50)) -- drains it, and grants none after it
        assert.are.equal(0, e:credit_remaining("u", "token"))
        assert.are.same({ false, "limit" }, { e:allow("u", "chat", 1) })
    end)
end)

describe("host-made grants", function()
    it("take a credit or a currency and give the grant back", function()
        local e = H.engine(EXCHANGED, 0, "b", "base")
        local g = assert(e:add_customer_grant("b", { credit = "usd", value = 2, id = "gift" }))
        assert.are.equal("gift", g.id)
        assert.are.equal("usd", g.credit)
        assert.are.equal(2, g.value)
        assert.are.equal(12, e:credit_remaining("b", "abstract"))
        local auto = assert(e:add_customer_grant("b", { credit = "abstract", value = 1 }))
        assert.is_truthy(auto.id:match("^grant%-"))
        assert.is_true(e:remove_customer_grant("b", "gift"))
        H.fails("unknown_grant", e:remove_customer_grant("b", "gift"))
    end)

    it("never share an id with a top-up's grant", function()
        local e = H.engine(INCLUDED, 0, "u1", "p")
        assert.are.equal("pack-1", e:customer("u1").grants[1].id)
        assert(e:add_customer_grant("u1", { credit = "token", value = 1, id = "extra-2" }))
        assert(e:apply_customer_topup("u1", "extra"))
        local ids = {}
        for _, g in ipairs(e:customer("u1").grants) do
            assert.is_nil(ids[g.id], g.id)
            ids[g.id] = true
        end
        assert.is_true(ids["extra-3"])
    end)

    it("refuse bad fields, naming each, and change nothing", function()
        local e = H.engine(EXCHANGED, 0, "b", "base")
        local err = H.fails("invalid_argument", e:add_customer_grant("b",
            { credit = "nope", value = -1, colour = "red", reset_mode = "x" }))
        assert.is_truthy(err:find("grant.credit", 1, true))
        assert.is_truthy(err:find("grant.value", 1, true))
        assert.is_truthy(err:find("colour", 1, true))
        assert.is_truthy(err:find("reset_mode", 1, true))
        H.fails("invalid_argument", e:add_customer_grant("b", {}))
        assert(e:add_customer_grant("b", { credit = "usd", value = 1, id = "x" }))
        H.fails("invalid_argument", e:add_customer_grant("b", { credit = "usd", value = 1, id = "x" }))
        H.fails("unknown_customer", e:add_customer_grant("ghost", { credit = "usd" }))
        assert.are.equal(1, #e:customer("b").grants - 1) -- the included one and x
        H.fails("unknown_currency", e:credit_remaining("b", "nope"))
        assert.has_error(function() e:add_customer_grant("b", "usd") end)
    end)

    it("of nothing that never refills go at the next write", function()
        local e = H.engine(EXCHANGED, 0, "b", "base")
        assert(e:add_customer_grant("b", { credit = "usd", value = 0, id = "empty" }))
        assert.are.equal(2, #e:customer("b").grants)
        assert(e:add_customer_grant("b", { credit = "usd", value = 1, id = "one" }))
        local ids = {}
        for _, g in ipairs(e:customer("b").grants) do ids[#ids + 1] = g.id end
        assert.are.same({ "monthly-1", "one" }, ids)
    end)

    it("stop at 256 per customer", function()
        local e = H.engine(EXCHANGED, 0, "b", "base")
        for _ = 2, 256 do assert(e:add_customer_grant("b", { credit = "usd", value = 1 })) end
        H.fails("too_many_grants", e:add_customer_grant("b", { credit = "usd", value = 1 }))
        H.fails("too_many_grants", e:apply_customer_topup("b", "monthly"))
    end)
end)

describe("a policy's top-ups", function()
    it("load through extends, and bad ones are named", function()
        local e = assert(limitr.new([[
policy:
  credits: {t: {}}
  plans:
    base:
      entitlements: {e: {limit: {credit: t, value: 0}}}
      topups:
        a: {credit: t, value: 1}
        b: {credit: t, value: 2}
    pro:
      extends: base
      topups:
        a: false
        c: {credit: t, value: 3, included: true}
]]))
        assert(e:create_customer("x", "pro"))
        assert.are.equal(3, e:credit_remaining("x", "t"))
        H.fails("unknown_topup", e:apply_customer_topup("x", "a"))
        assert.is_true(e:apply_customer_topup("x", "b"))
        local _, err = limitr.new([[
policy:
  credits: {t: {}}
  plans:
    p:
      topups:
        bad: {credit: nope, value: -1, reset_mode: sideways, rollover_pct: 2,
              reset_catchup_cap: 1.5, expires_after: 0, rollover_min: 5, rollover_max: 1}
]])
        for _, want in ipairs({ "plans.p.topups.bad.credit: unknown credit 'nope'",
            "bad.value: must not be negative", "unknown reset_mode 'sideways'",
            "rollover_pct: must be a fraction", "reset_catchup_cap: must be a whole number",
            "expires_after: must be greater than 0", "rollover_min: is greater than rollover_max" }) do
            assert.is_truthy(err:find(want, 1, true), want .. " in " .. err)
        end
    end)
end)

describe("a grant too large to convert", function()
    it("reads as the most an amount can be, as the draw uses it", function()
        local e = assert(limitr.new([[
policy:
  exchange: {store: {value: 0.001, currency: rune}}
  credits:
    seat: {price: {amount: 2}}
    store: {}
  plans:
    p:
      default: true
      entitlements: {s: {limit: {credit: store, value: 1000}}}
]]))
        assert(e:create_customer("u"))
        assert(e:add_customer_grant("u", { credit = "seat", value = 1e10 }))
        assert.are.equal(2e13, e:credit_remaining("u", "store"))
        -- 1e20 seats are 2e20 runes: past the range, so the most, not nothing
        assert(e:add_customer_grant("u", { credit = "seat", value = 1e20 }))
        assert.are.equal(1e20, e:credit_remaining("u", "store"))
        assert.are.equal(1e20, e:remaining("u", "s"))
        assert.is_true(e:check("u", "s", 1e19))
    end)
end)
