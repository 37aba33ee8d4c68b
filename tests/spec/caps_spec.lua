-- caps_spec.lua: spend caps (docs/engine.md 16) from Lua, with its worked
-- numbers.
local H = require "helpers"

local ORG = [[
policy:
  credits:
    token: {price: {amount: 0.1}}
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 0, mode: soft}}
        other: {limit: {credit: token, value: 0, mode: soft}}
]]

local function org(opts)
    local e = H.engine(ORG, 0)
    assert(e:create_customer("acme", nil, { type = "org" }))
    assert(e:create_customer("eng", nil, { type = "team", refs = { "acme" } }))
    assert(e:create_customer("alice", nil, { refs = { "eng" } }))
    assert(e:create_customer("bob", nil, { refs = { "acme" } }))
    local o = { id = "org_budget", shared = true }
    for k, v in pairs(opts or {}) do o[k] = v end
    assert(e:add_customer_cap("acme", 1, o))
    return e
end

local function used(e, id, cap)
    return e:customer_cap(id, cap).meter_value
end

describe("a shared org cap of 1 rune, tokens at 0.1", function()
    it("stops a user two refs below it (the steps of docs/engine.md 16.4)", function()
        local e = org()
        local seen = H.recorder(e)
        assert.is_true(e:allow("alice", "chat", 4))
        assert.are.equal(0.4, used(e, "acme", "org_budget"))
        assert.are.same({ "meter-overage", "customer-set" }, H.names(seen))
        assert.are.equal("acme", seen[2].ev.id)
        assert.is_true(e:allow("bob", "chat", 5))
        assert.are.equal(0.9, used(e, "acme", "org_budget"))
        for i = #seen, 1, -1 do seen[i] = nil end
        assert.are.same({ false, "cap" }, { e:allow("alice", "chat", 2) })
        assert.are.same({ "cap-limit" }, H.names(seen))
        local ev = seen[1].ev
        assert.are.equal("acme", ev.customer.id)
        assert.are.equal("alice", ev.caller.id)
        assert.are.equal(0.2, ev.meter.price_diff)
        assert.are.equal("org_budget", ev.cap.id)
        assert.are.equal(4, e:value("alice", "chat"))
        for i = #seen, 1, -1 do seen[i] = nil end
        assert.is_true(e:allow("alice", "chat", 1))
        assert.are.equal(1, used(e, "acme", "org_budget"))
        local crossed = {}
        for _, s in ipairs(seen) do
            if s.name == "cap-threshold-crossed" then crossed[#crossed + 1] = s.ev end
        end
        assert.are.equal(1, #crossed)
        assert.are.equal("acme", crossed[1].customer.id)
        assert.are.equal("alice", crossed[1].caller.id)
        for _, who in ipairs({ "alice", "bob", "eng", "acme" }) do
            assert.are.same({ false, "cap" }, { e:allow(who, "chat", 1) })
        end
        assert.is_true(e:reset_customer_cap("acme", "org_budget"))
        assert.is_true(e:allow("bob", "chat", 1))
    end)

    it("counts only the types in shared_with", function()
        local e = org({ shared_with = { "team" } })
        assert.is_true(e:allow("alice", "chat", 4))
        assert.is_true(e:allow("bob", "chat", 50))
        assert.are.equal(0, used(e, "acme", "org_budget"))
        assert.is_true(e:allow("eng", "chat", 4))
        assert.are.equal(0.4, used(e, "acme", "org_budget"))
    end)

    it("an unshared org cap binds only the org's own calls", function()
        local e = org({ shared = false })
        assert.is_true(e:allow("alice", "chat", 50))
        assert.are.equal(0, used(e, "acme", "org_budget"))
        assert.are.same({ false, "cap" }, { e:allow("acme", "chat", 11) })
    end)

    it("fires cap-threshold-crossed once per crossing", function()
        local e = org()
        local crossed = H.recorder(e, "^cap%-threshold")
        assert.is_true(e:allow("acme", "chat", 10)) -- exactly the ceiling
        assert.are.equal(1, #crossed)
        assert(e:add_customer_cap("bob", 0.5, { id = "mine", observe_only = true }))
        assert.is_true(e:allow("bob", "other", 0)) -- nothing moves
        assert(e:reset_customer_cap("acme", "org_budget"))
        assert(e:remove_customer_cap("acme", "org_budget"))
        assert.is_true(e:allow("bob", "chat", 6)) -- observe-only: crosses, never denies
        assert.is_true(e:allow("bob", "chat", 6))
        assert.are.equal(2, #crossed)
        assert.are.equal(1.2, used(e, "bob", "mine"))
    end)

    it("visits at most 1,024 customers on the way: past that, too_many_caps", function()
        local e = org()
        local teams = {}
        for i = 1, 1020 do
            teams[i] = "t" .. i
            assert(e:create_customer(teams[i], nil, { type = "team", refs = { "acme" } }))
        end
        assert(e:create_customer("wide", nil, { refs = teams }))
        -- the caller, its 1,020 teams, acme: 1,022 visited
        assert.is_true(e:allow("wide", "chat", 1))
        assert.are.equal(0.1, used(e, "acme", "org_budget"))
        for i = 1021, 1023 do
            teams[i] = "t" .. i
            assert(e:create_customer(teams[i]))
        end
        assert(e:set_customer_refs("wide", teams)) -- 1,025
        assert.are.same({ false, "too_many_caps" }, { e:allow("wide", "chat", 1) })
        assert.are.equal(0.1, used(e, "acme", "org_budget"))
    end)
end)

local TIERS = [[
policy:
  credits:
    tok:
      pricing_model: %s
      tiers: %s
  plans:
    p:
      default: true
      entitlements:
        e: {limit: {credit: tok, value: %s, mode: soft}}
]]
local BANDS = "[{up_to: 100, price: {amount: 0.01}}, {up_to: 1000, price: {amount: 0.005}}, {price: {amount: 0.001}}]"

describe("a rune cap on a tier-priced credit", function()
    it("reads the tiered numbers", function()
        local e = H.engine(TIERS:format("tiered", BANDS, 0), 0, "c", "p")
        assert(e:add_customer_cap("c", 100, { id = "r" }))
        local got = {}
        for _, n in ipairs({ 100, 100, 1000 }) do
            assert.is_true(e:allow("c", "e", n))
            got[#got + 1] = used(e, "c", "r")
        end
        assert.are.same({ 1, 1.5, 5.7 }, got)
    end)

    it("prices included units at the first rate; overage_only counts past the limit", function()
        local e = H.engine(TIERS:format("tiered", BANDS, 50), 0, "c", "p")
        assert(e:add_customer_cap("c", 100, { id = "plain" }))
        assert(e:add_customer_cap("c", 100, { id = "over", overage_only = true }))
        assert.is_true(e:allow("c", "e", 60))
        assert.are.same({ 0.6, 0.1 }, { used(e, "c", "plain"), used(e, "c", "over") })
        assert.is_true(e:allow("c", "e", 100))
        assert.are.same({ 1.55, 1.05 }, { used(e, "c", "plain"), used(e, "c", "over") })
    end)

    it("follows a volume band's negative marginal", function()
        local e = H.engine(TIERS:format("volume", BANDS, 0), 0, "c", "p")
        assert(e:add_customer_cap("c", 100, { id = "r" }))
        assert.is_true(e:allow("c", "e", 100))
        assert.are.equal(1, used(e, "c", "r"))
        assert.is_true(e:allow("c", "e", 1))
        assert.are.equal(0.505, used(e, "c", "r"))
    end)

    it("reads the stairstep fees", function()
        local e = H.engine(TIERS:format("stairstep",
            "[{up_to: 100, price: {amount: 5}}, {up_to: 1000, price: {amount: 20}}, {price: {amount: 50}}]", 0),
            0, "c", "p")
        assert(e:add_customer_cap("c", 100, { id = "r" }))
        local got = {}
        for _, n in ipairs({ 10, 80, 20 }) do
            assert.is_true(e:allow("c", "e", n))
            got[#got + 1] = used(e, "c", "r")
        end
        assert.are.same({ 5, 5, 20 }, got)
        H.fails("invalid_argument", e:add_customer_cap("c", 1, { credit = "tok", exchangeable = true }))
        assert(e:add_customer_cap("c", 1000, { credit = "tok" })) -- its own units only
    end)
end)

local MONEY = [[
policy:
  credits:
    token: {price: {amount: 0.00002}}
    seat: {}
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 0, mode: soft}}
        hard: {limit: {credit: token, value: 1000}}
        seats: {limit: {credit: seat, value: 100}}
        priced: {limit: {credit: token, value: 0, mode: soft}}
]]

describe("money does not drift", function()
    it("a million calls at 0.00002 leave an observe-only rune cap at exactly 20", function()
        local e = H.engine(MONEY, 0, "c", "p")
        assert(e:add_customer_cap("c", 1000, { id = "spend", observe_only = true }))
        local allow = e.allow
        for _ = 1, 1000000 do allow(e, "c", "chat", 1) end
        assert.are.equal(20, used(e, "c", "spend"))
        assert.are.equal(1000000, e:value("c", "chat"))
    end)

    it("a cap of 2.4 admits six calls priced 0.4", function()
        local e = H.engine(MONEY, 0, "c", "p")
        assert(e:add_customer_cap("c", 2.4, { id = "r" }))
        local n = 0
        while e:allow("c", "chat", 20000) do n = n + 1 end
        assert.are.equal(6, n)
        assert.are.equal(2.4, used(e, "c", "r"))
    end)
end)

describe("cap options", function()
    it("hard_trailing lets the crossing call through whole", function()
        local e = H.engine(ORG, 0, "c", "p")
        assert(e:add_customer_cap("c", 1, { id = "r", hard_trailing = true }))
        assert.is_true(e:allow("c", "chat", 9))
        assert.is_true(e:allow("c", "chat", 5)) -- 0.9 < 1 before: allowed
        assert.are.equal(1.4, used(e, "c", "r"))
        assert.are.same({ false, "cap" }, { e:allow("c", "chat", 1) })
    end)

    it("scope and exchangeable pick the calls a cap counts", function()
        local e = H.engine(MONEY, 0, "c", "p")
        assert(e:add_customer_cap("c", 1, { id = "chat_only", scope = { "chat" } }))
        assert(e:add_customer_cap("c", 3, { id = "seats", credit = "seat" }))
        assert.is_true(e:allow("c", "priced", 100000))
        assert.are.equal(0, used(e, "c", "chat_only"))
        assert.is_true(e:allow("c", "seats", 3))
        assert.are.equal(3, used(e, "c", "seats"))
        assert.are.same({ false, "cap" }, { e:allow("c", "seats", 1) })
        assert.is_true(e:allow("c", "chat", 1))
        assert.are.equal(3, used(e, "c", "seats")) -- a seat cap does not count tokens
    end)

    it("a rune cap skips a credit with no way to runes, and counts its own", function()
        local e = H.engine(MONEY, 0, "c", "p")
        assert(e:add_customer_cap("c", 0.5, { id = "spend" }))
        assert.is_true(e:allow("c", "seats", 50)) -- seats have no price
        assert.are.equal(0, used(e, "c", "spend"))
        assert.is_true(e:allow("c", "priced", 20000)) -- 0.4 runes
        assert.are.equal(0.4, used(e, "c", "spend"))
        assert.are.same({ false, "cap" }, { e:allow("c", "priced", 10000) })
        assert(e:add_customer_cap("c", 30000, { id = "tokens", credit = "token" }))
        assert.is_true(e:allow("c", "chat", 5000)) -- 0.1 runes: 0.5 reached
        assert.are.equal(5000, used(e, "c", "tokens"))
        assert.are.same({ false, "cap" }, { e:allow("c", "chat", 1) })
    end)

    it("follow_decrements lowers the meter on a decrease", function()
        local e = H.engine(MONEY, 0, "c", "p")
        assert(e:add_customer_cap("c", 10, { id = "f", credit = "seat", follow_decrements = true }))
        assert(e:add_customer_cap("c", 10, { id = "s", credit = "seat" }))
        assert.is_true(e:allow("c", "seats", 5))
        assert.is_true(e:allow("c", "seats", -2))
        assert.are.same({ 3, 5 }, { used(e, "c", "f"), used(e, "c", "s") })
    end)

    it("ignore_grants counts only what grants do not cover", function()
        local e = H.engine(MONEY, 0, "c", "p")
        assert(e:add_customer_grant("c", { credit = "token", value = 10000 }))
        assert(e:add_customer_cap("c", 1, { id = "ig", ignore_grants = true }))
        assert(e:add_customer_cap("c", 1, { id = "all" }))
        assert.is_true(e:allow("c", "chat", 15000))
        assert.are.same({ 0.1, 0.3 }, { used(e, "c", "ig"), used(e, "c", "all") })
    end)

    it("overhead_cost counts the provider's cost", function()
        local e = H.engine([[
policy:
  credits:
    token: {price: {amount: 0.01}, overhead_cost: 0.004}
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 0, mode: soft}}
]], 0, "c", "p")
        assert(e:add_customer_cap("c", 1, { id = "cost", overhead_cost = true }))
        assert.is_true(e:allow("c", "chat", 100))
        assert.are.equal(0.4, used(e, "c", "cost"))
        assert.is_true(e:allow("c", "chat", 10, { overhead = 0.5 }))
        assert.are.equal(0.9, used(e, "c", "cost"))
    end)

    it("resets each period and expires", function()
        local e = H.engine(ORG, 0, "c", "p")
        assert(e:add_customer_cap("c", 1, { id = "daily", resets = true, reset_inc = "1day" }))
        assert(e:add_customer_cap("c", 5, { id = "gone", expires_on = 1000 }))
        assert.is_true(e:allow("c", "chat", 10))
        assert.are.same({ false, "cap" }, { e:allow("c", "chat", 1) })
        e:set_time(86400000)
        assert.are.equal(0, used(e, "c", "daily"))
        assert.is_true(e:allow("c", "chat", 1))
        H.fails("unknown_cap", e:customer_cap("c", "gone"))
        local ids = {}
        for _, k in ipairs(e:customer("c").caps) do ids[#ids + 1] = k.id end
        assert.are.same({ "daily" }, ids)
    end)

    it("a scheduled cap starts its first period at its first use", function()
        local e = H.engine(ORG, 1767225600000 + 5 * 86400000, "c", "p") -- 2026-01-06
        assert(e:add_customer_cap("c", 1, { id = "m", resets = true, reset_sch = "monthly:1" }))
        assert.is_true(e:allow("c", "chat", 5))
        assert.are.equal(1767225600000, e:customer_cap("c", "m").last_reset)
        e:set_time(1767225600000 + 31 * 86400000) -- 2026-02-01
        assert.are.equal(0, used(e, "c", "m"))
    end)
end)

describe("cap events and policy logic", function()
    it("notifications and handlers see cap-limit and cap-threshold-crossed", function()
        local e = H.engine(ORG .. [[
  notifications:
    budget_gone:
      matches: "function(type, event) return type == 'cap-threshold-crossed' end"
  handlers:
    budget_gone: "function(event) App.tell('gone', event.cap.id) end"
    cap-limit: "function(event) App.tell('denied', event.caller.id) end"
]], 0, "c", "p")
        local told = {}
        e:lib("App", "tell", function(what, who) told[#told + 1] = what .. ":" .. who end)
        assert(e:add_customer_cap("c", 1, { id = "r" }))
        assert.is_true(e:allow("c", "chat", 10))
        assert.are.same({ false, "cap" }, { e:allow("c", "chat", 1) })
        assert.are.same({ "gone:r", "denied:c" }, told)
    end)

    it("a handler deleting a holder while cap events are delivered breaks nothing", function()
        local e = org()
        e:on("customer-set", function(ev) if ev.id == "acme" then e:delete_customer("acme") end end)
        local crossed = H.recorder(e, "^cap%-threshold")
        assert.is_true(e:allow("alice", "chat", 10))
        assert.are.equal(1, #crossed)
        assert.is_nil(e:customer("acme"))
        assert.is_true(e:allow("alice", "chat", 10)) -- the cap went with acme
    end)
end)

describe("caps at the edges", function()
    it("a cap denial after a roll-over still fires meter-reset", function()
        local e = H.engine([[
policy:
  credits: {token: {price: {amount: 0.1}}}
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 1000, resets: true, reset_inc: 100}}
]], 0, "c", "p")
        assert(e:add_customer_cap("c", 1, { id = "r" }))
        assert.is_true(e:allow("c", "chat", 5))
        e:set_time(150)
        local seen = H.recorder(e)
        assert.are.same({ false, "cap" }, { e:allow("c", "chat", 100) })
        assert.are.same({ "meter-reset", "cap-limit" }, H.names(seen))
    end)

    it("an amount past the range of amounts is denied, never skipped", function()
        local e = H.engine([[
policy:
  credits: {token: {price: {amount: 1000000}}}
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 0, mode: soft}}
]], 0, "c", "p")
        assert(e:add_customer_cap("c", 1, { id = "r" }))
        assert.are.same({ false, "cap" }, { e:allow("c", "chat", 1e15) })
        assert.is_false(e:check("c", "chat", 1e15))
        assert.are.equal(0, used(e, "c", "r"))
        assert.is_true(e:allow("c", "chat", 1e15, { force = true }))
        assert.is_true(used(e, "c", "r") >= 1e19) -- forced: it fills the cap
    end)

    it("an overhead cap sees opts.overhead at the gate, and a 0-unit call's overhead", function()
        local e = H.engine(ORG, 0, "c", "p")
        assert(e:add_customer_cap("c", 1, { id = "cost", overhead_cost = true }))
        assert(e:add_customer_cap("c", 100, { id = "over", overhead_cost = true, overage_only = true }))
        assert.are.same({ false, "cap" }, { e:allow("c", "chat", 1, { overhead = 50 }) })
        assert.are.equal(0, used(e, "c", "cost"))
        assert.is_true(e:allow("c", "chat", 0, { overhead = 0.75 }))
        assert.are.equal(0.75, used(e, "c", "cost"))
        assert.are.equal(0, used(e, "c", "over"))
    end)

    it("a caller with many refs pays nothing for a cap elsewhere", function()
        local e = H.engine(ORG, 0)
        local refs = {}
        for i = 1, 300 do
            assert(e:create_customer("r" .. i))
            refs[i] = "r" .. i
        end
        assert(e:create_customer("many", nil, { refs = refs }))
        assert(e:create_customer("other"))
        assert(e:add_customer_cap("other", 1, { shared = true }))
        assert.is_true(e:allow("many", "chat", 100))
        assert(e:add_customer_cap("r300", 1, { shared = true, id = "deep" }))
        assert.are.same({ false, "cap" }, { e:allow("many", "chat", 11) })
        assert.is_true(e:allow("many", "chat", 10))
        assert.are.equal(1, used(e, "r300", "deep"))
    end)

    it("prices the part grants left on tiers from after what they paid", function()
        local e = H.engine(TIERS:format("tiered", BANDS, 0), 0, "c", "p")
        assert(e:add_customer_grant("c", { credit = "tok", value = 100 }))
        assert(e:add_customer_cap("c", 100, { id = "ig", ignore_grants = true }))
        assert(e:add_customer_cap("c", 100, { id = "ov", ignore_grants = true, overage_only = true }))
        local seen = H.recorder(e, "^meter")
        assert.is_true(e:allow("c", "e", 200))
        assert.are.equal(0.5, seen[1].ev.overage_price)
        assert.are.same({ 0.5, 0.5 }, { used(e, "c", "ig"), used(e, "c", "ov") })
    end)

    it("expired caps go at the next write, their ids free again", function()
        local e = H.engine(ORG, 0, "c", "p")
        assert(e:add_customer_cap("c", 1, { id = "daily", expires_on = 100 }))
        e:set_time(100)
        H.fails("unknown_cap", e:remove_customer_cap("c", "daily"))
        assert(e:add_customer_cap("c", 2, { id = "daily" }))
        assert.are.equal(2, e:customer_cap("c", "daily").value)
        H.fails("invalid_argument", e:add_customer_cap("c", -1))
    end)
end)

describe("bad caps", function()
    it("are refused whole, every problem named", function()
        local e = H.engine(ORG, 0, "c", "p")
        local err = H.fails("invalid_argument", e:add_customer_cap("c", -1,
            { credit = "nope", reset_inc = "1day", reset_sch = "monthly:1",
              resets = true, shared_with = "org" }))
        for _, want in ipairs({ "cap.credit", "'nope'", "mutually exclusive", "cap.shared_with" }) do
            assert.is_truthy(err:find(want, 1, true), want .. " in " .. err)
        end
        assert(e:add_customer_cap("c", 1, { id = "x" }))
        H.fails("invalid_argument", e:add_customer_cap("c", 1, { id = "x" }))
        H.fails("unknown_customer", e:add_customer_cap("ghost", 1))
        H.fails("unknown_cap", e:reset_customer_cap("c", "nope"))
        H.fails("unknown_cap", e:remove_customer_cap("c", "nope"))
        assert.has_error(function() e:add_customer_cap("c", {}) end)
        assert.has_error(function() e:remove_customer_cap("c", "x", { events = "yes" }) end)
        assert.are.equal(1, #e:customer("c").caps)
        local auto = assert(e:add_customer_cap("c", "2"))
        assert.are.equal("cap-1", auto.id)
        assert.are.equal(2, auto.value)
        assert.are.equal(2, auto.remaining)
    end)
end)

describe("caps passed on a call", function()
    it("bind that call alone, from 0", function()
        local e = H.engine(ORG, 0, "c", "p")
        local seen = H.recorder(e, "^cap")
        assert.are.same({ false, "cap" }, { e:allow("c", "chat", 6, { caps = { rune = 0.5 } }) })
        assert.are.equal("cap-limit", seen[1].name)
        assert.are.equal("tmp-rune", seen[1].ev.cap.id)
        assert.are.equal("c", seen[1].ev.customer.id)
        assert.is_true(e:allow("c", "chat", 5, { caps = { rune = 0.5 } }))
        assert.are.equal("cap-threshold-crossed", seen[2].name)
        assert.is_true(e:allow("c", "chat", 5, { caps = { rune = 0.5 } })) -- vanished: from 0 again
        assert.is_false(e:check("c", "chat", 6, { caps = { rune = 0.5 } }))
        assert.is_true(e:check("c", "chat", 6))
        assert.are.same({}, e:customer("c").caps)
    end)

    it("take full cap tables, and stack with standing caps", function()
        local e = H.engine(ORG, 0, "c", "p")
        assert(e:add_customer_cap("c", 1, { id = "standing" }))
        local list = { { value = 2, id = "call", scope = { "chat" } } }
        assert.is_true(e:allow("c", "chat", 8, { caps = list }))
        assert.are.same({ false, "cap" }, { e:allow("c", "chat", 3, { caps = list }) }) -- standing: 0.8 + 0.3
        assert.is_true(e:allow("c", "other", 30, { caps = { { value = 2, scope = { "chat" } } }, force = true }))
    end)

    it("refuse bad caps, naming them, before any gate", function()
        local e = H.engine(ORG, 0, "c", "p")
        local err = H.fails("invalid_argument", e:allow("c", "chat", 1, { caps = { nope = 1 } }))
        assert.is_truthy(err:find("opts.caps.nope", 1, true), err)
        err = H.fails("invalid_argument", e:allow("c", "chat", 1, { caps = { { credit = "rune" } } }))
        assert.is_truthy(err:find("opts.caps[0]", 1, true), err)
        assert.has_error(function() e:allow("c", "chat", 1, { caps = 0.5 }) end)
        assert.are.equal(0, e:value("c", "chat"))
    end)
end)

describe("caps passed on a call, at the edges", function()
    it("do not bind the calls a handler makes", function()
        local e = H.engine(ORG, 0, "c", "p")
        assert(e:create_customer("d"))
        local nested
        e:on("meter-overage", function(ev)
            if ev.customer.id == "c" then nested = { e:allow("d", "other", 30) } end
        end)
        assert.is_true(e:allow("c", "chat", 1, { caps = { rune = 0.5 } }))
        assert.are.same({ true }, nested)
        assert.are.equal(30, e:value("d", "other"))
    end)

    it("refuse the fields of standing caps", function()
        local e = H.engine(ORG, 0, "c", "p")
        local err = H.fails("invalid_argument", e:allow("c", "chat", 1,
            { caps = { { value = 1, hard_trailing = true, shared = true } } }))
        assert.is_truthy(err:find("'hard_trailing' is for standing caps", 1, true), err)
        assert.is_truthy(err:find("'shared' is for standing caps", 1, true), err)
    end)
end)
