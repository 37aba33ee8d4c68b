-- The customer graph (docs/engine.md sections 2, 2.2, 8, 13.6, 14.12): plans
-- through refs, the default plan, alt IDs, scope, plan changes.
local H = require "helpers"

local POLICY = [[
policy:
  credits:
    seat: {}
    project: {}
    request: {}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: request, value: 10}}
    team_plan:
      entitlements:
        seats: {scope: org, limit: {credit: seat, value: 3}}
        projects: {scope: team, limit: {credit: project, value: 10}}
        org_flag: {scope: org}
        api: {limit: {credit: request, value: 100}}
    pro:
      entitlements:
        api: {limit: {credit: request, value: 1000, resets: true, reset_inc: 1day}}
        extra: {limit: {credit: request, value: 5, resets: true, reset_inc: 1day}}
        flag: {}
]]

local function engine()
    return H.engine(POLICY, 1000000)
end

local recorder, names = H.recorder, H.names

local function org_team_users(e)
    e:create_customer("acme", "team_plan", { type = "org" })
    e:create_customer("eng", nil, { type = "team", refs = { "acme" } })
    e:create_customer("u1", nil, { type = "user", refs = { "eng" } })
    e:create_customer("u2", nil, { type = "user", refs = { "eng" } })
end

describe("scope org -> team -> user (docs/engine.md 13.6)", function()
    it("moves the meter of the nearest customer of the scope's type", function()
        local e = engine()
        org_team_users(e)
        assert.are.equal("team_plan", e:customer("eng").plan)
        assert.are.equal("", e:customer("eng").own_plan)
        assert.are.equal("team_plan", e:customer("u1").plan)
        local seen = recorder(e, "^meter")
        assert.is_true(e:increment("u1", "seats"))
        assert.is_true(e:increment("u2", "seats"))
        assert.are.equal(2, e:value("u1", "seats"))
        assert.are.equal(2, e:value("u2", "seats"))
        assert.are.equal(2, e:value("acme", "seats"))
        assert.are.equal(2, #seen)
        for _, s in ipairs(seen) do
            assert.are.equal("meter-changed", s.name)
            assert.are.equal("acme", s.ev.customer.id)
            assert.are.equal("team_plan", s.ev.plan)
            assert.are.equal("seats", s.ev.entitlement)
        end
        assert.are.same({ old = 1, value = 2, limit = 3, diff = 1, overhead = 0, overhead_diff = 0 }, seen[2].ev.meter)
        assert.are.equal(2, e:customer("acme").meters.seats.value)
        assert.is_nil(e:customer("u1").meters.seats)

        assert.is_true(e:increment("u1", "projects"))
        assert.are.equal("eng", seen[3].ev.customer.id)
        assert.are.equal(1, e:value("eng", "projects"))
        assert.are.equal(1, e:value("u2", "projects"))
        assert.are.equal(9, e:remaining("u2", "projects"))

        assert.is_true(e:increment("acme", "seats"))
        assert.are.equal(3, e:value("acme", "seats"))
        assert.are.same({ false, "limit" }, { e:increment("u2", "seats") })
        assert.are.equal("meter-limit", seen[5].name)
        assert.are.equal("acme", seen[5].ev.customer.id)
        assert.are.equal(4, seen[5].ev.invalid_value)
        assert.are.equal(3, e:value("u1", "seats"))
    end)

    it("walks refs breadth first", function()
        local e = engine()
        org_team_users(e)
        e:create_customer("acme2", "team_plan", { type = "org" })
        e:create_customer("u3", nil, { type = "user", refs = { "eng", "acme2" } })
        assert.is_true(e:increment("u3", "seats"))
        assert.are.equal(1, e:value("acme2", "seats"))
        assert.are.equal(0, e:value("acme", "seats"))
        assert.are.equal(1, e:value("u3", "seats"))
    end)

    it("denies no_scope_customer with no event and nil reads when no owner is reachable", function()
        local e = engine()
        e:create_customer("solo", "team_plan", { type = "user" })
        local seen = recorder(e)
        assert.are.same({ false, "no_scope_customer" }, { e:increment("solo", "seats") })
        assert.are.same({ false, "no_scope_customer" }, { e:allow("solo", "seats", 1) })
        assert.are.same({ false, "no_scope_customer" }, { e:allow("solo", "seats", 1, { force = true }) })
        assert.are.same({ false, "no_scope_customer" }, { e:check("solo", "seats", 1) })
        assert.are.same({ false, "no_scope_customer" }, { e:allow("solo", "org_flag", 1) }) -- a scoped flag too
        assert.are.equal(0, #seen)
        assert.is_nil(e:value("solo", "seats"))
        assert.is_nil(e:remaining("solo", "seats"))
        assert.is_nil(e:limit("solo", "seats"))
        assert.is_nil(e:resets("solo", "seats"))
        assert.is_nil(e:allowance("solo", "seats"))
        assert.is_nil(e:customer("solo").meters.seats)
        local x = e:explain("solo", "seats", 1)
        assert.is_false(x.allowed)
        assert.are.equal("scope", x.gate)
        assert.are.equal("no_scope_customer", x.reason)
    end)

    it("lets a scoped flag through once an owner is reachable", function()
        local e = engine()
        org_team_users(e)
        assert.is_true(e:allow("u1", "org_flag", 5))
        assert.are.equal(0, e:value("u1", "org_flag"))
    end)

    it("looks at the first 256 customers breadth first, however many refs a caller has", function()
        local e = engine()
        assert(e:create_customer("o", "free", { type = "org" }))
        local refs = { "o" }
        for i = 1, 300 do
            refs[#refs + 1] = "t" .. i
            assert(e:create_customer("t" .. i, nil, { type = "team" }))
        end
        assert(e:create_customer("wide", "team_plan", { refs = refs }))
        assert.is_true(e:increment("wide", "seats")) -- o comes first
        -- the 256th customer looked at (the caller is the first) is found, the 257th is not
        e:create_customer("o2", "free", { type = "org" })
        refs[1] = "t0"
        e:create_customer("t0", nil, { type = "team" })
        refs[255] = "o2"
        assert(e:create_customer("deep", "team_plan", { refs = refs }))
        assert.is_true(e:increment("deep", "seats"))
        assert.are.equal(1, e:customer("o2").meters.seats.value)
        refs[255], refs[256] = "t254", "o2"
        assert(e:create_customer("deeper", "team_plan", { refs = refs }))
        assert.are.same({ false, "no_scope_customer" }, { e:increment("deeper", "seats") })
    end)

    it("skips missing refs and ends ref cycles", function()
        local e = engine()
        e:create_customer("a", "team_plan", { type = "team", refs = { "ghost", "b" } })
        e:create_customer("b", nil, { type = "team", refs = { "a" } })
        assert.are.equal("team_plan", e:customer("b").plan)
        assert.are.same({ false, "no_scope_customer" }, { e:increment("a", "seats") })
        e:create_customer("o", "free", { type = "org" })
        assert.is_true(e:set_customer_refs("b", { "a", "o" }))
        assert.is_true(e:increment("a", "seats")) -- a -> b -> o
        assert.are.equal(1, e:customer("o").meters.seats.value)
        assert.is_nil(e:value("o", "seats")) -- o's own plan has no seats: gate 2
        assert.are.equal(1, e:value("b", "seats"))
        -- the limit is the caller's plan's, the meter the owner's
        assert.are.equal(3, e:limit("a", "seats"))
    end)
end)

describe("plans through refs and the default plan (docs/engine.md 2.1)", function()
    it("follows the first ref with a resolved plan, depth first, own plan before refs", function()
        local e = engine()
        e:create_customer("o1", "pro", { type = "org" })
        e:create_customer("o2", "team_plan", { type = "org" })
        e:create_customer("t", nil, { type = "team", refs = { "missing", "o1" } })
        local snap = e:create_customer("u", nil, { refs = { "t", "o2" } })
        assert.are.equal("pro", snap.plan)
        assert.are.equal("", snap.own_plan)
        assert.are.same({ "t", "o2" }, snap.refs)
        assert.are.equal(1000, e:limit("u", "api"))
        -- the stored '' follows the refs when they change
        assert.is_true(e:set_customer_refs("u", { "o2" }))
        assert.are.equal("team_plan", e:customer("u").plan)
        assert.are.equal(100, e:limit("u", "api"))
    end)

    it("clears refs with an empty list, falling back to the default plan", function()
        local e = engine()
        e:create_customer("o", "pro", { type = "org" })
        e:create_customer("u", nil, { refs = { "o" } })
        assert.are.same({ true }, { e:set_customer_refs("u", {}) })
        assert.are.same({}, e:customer("u").refs)
        assert.are.equal("free", e:customer("u").plan)
        assert.are.equal(10, e:limit("u", "api"))
        local snap = e:create_customer("v", nil, { refs = {} })
        assert.are.same({}, snap.refs)
        assert.are.equal("free", snap.plan)
        H.fails("unknown_customer", e:set_customer_refs("nobody", { "o" }))
        assert.has_error(function() e:set_customer_refs("u", "o") end)
    end)

    it("stores the default plan by name when no ref has a plan", function()
        local e = engine()
        local snap = e:create_customer("c")
        assert.are.equal("free", snap.plan)
        assert.are.equal("free", snap.own_plan)
        assert.are.equal("user", snap.type)
        assert.are.equal("User", snap.label)
        assert.are.same({}, snap.refs)
        assert.are.same({}, snap.alt_ids)
        assert.are.equal(1000000, snap.created)
        -- stored by name: later refs do not change it
        e:create_customer("o", "pro", { type = "org" })
        assert.is_true(e:set_customer_refs("c", { "o" }))
        assert.are.equal("free", e:customer("c").plan)
    end)

    it("says no_plan without a default plan or a ref with a plan, and unknown_plan", function()
        local e = H.engine("policy: {plans: {a: {}}}")
        H.fails("no_plan", e:create_customer("x"))
        H.fails("no_plan", e:create_customer("x", nil, { refs = { "nobody" } }))
        H.fails("unknown_plan", e:create_customer("x", "b"))
        H.fails("unknown_customer", e:customer("x"))
    end)

    it("updates an existing customer, keeping what is not given", function()
        local e = engine()
        e:create_customer("c", "pro", { type = "org", label = "Acme", alt_ids = { "a1" }, metadata = { k = 1 } })
        e:allow("c", "api", 7)
        local seen = recorder(e)
        local snap = e:create_customer("a1", nil, { alt_ids = { "a2" }, refs = { "x" } })
        assert.are.equal("c", snap.id)
        assert.are.equal("pro", snap.plan)
        assert.are.equal("org", snap.type)
        assert.are.equal("Acme", snap.label)
        assert.are.same({ k = 1 }, snap.metadata)
        assert.are.same({ "a1", "a2" }, snap.alt_ids)
        assert.are.same({ "x" }, snap.refs)
        assert.are.equal(7, e:value("a2", "api"))
        assert.are.same({ "customer-set" }, names(seen))
    end)

    it("deletes a customer with its alt IDs; refs to it are skipped", function()
        local e = engine()
        e:create_customer("o", "pro", { type = "org", alt_ids = { "o-alt" } })
        e:create_customer("u", nil, { refs = { "o" } })
        assert.are.equal("pro", e:customer("u").plan)
        local seen = recorder(e)
        assert.is_true(e:delete_customer("o-alt"))
        assert.are.same({ "customer-removed" }, names(seen))
        assert.are.equal("o", seen[1].ev.id)
        assert.is_nil(e:customer("o"))
        assert.is_nil(e:customer("o-alt"))
        assert.are.equal("free", e:customer("u").plan)
        assert.are.same({ "o" }, e:customer("u").refs)
        -- the freed IDs can be used again
        assert.is_not_nil(e:create_customer("o-alt", "free"))
    end)
end)

describe("alt IDs (docs/engine.md 2.1.6, 14.12)", function()
    it("resolve everywhere an ID is accepted", function()
        local e = engine()
        e:create_customer("c", "pro", { alt_ids = { "email:c@x" } })
        local seen = recorder(e)
        assert.is_true(e:set_alt_customer_id("c", "stripe:1"))
        assert.are.same({ "customer-set" }, names(seen))
        assert.are.same({ "email:c@x", "stripe:1" }, seen[1].ev.alt_ids)
        assert.is_true(e:allow("stripe:1", "api", 3))
        assert.is_true(e:increment("email:c@x", "api"))
        assert.is_true(e:decrement("stripe:1", "api"))
        assert.is_true(e:check("stripe:1", "api", 997))
        assert.are.equal(3, e:value("stripe:1", "api"))
        assert.are.equal(997, e:remaining("stripe:1", "api"))
        assert.are.equal(1000, e:limit("stripe:1", "api"))
        assert.are.equal(1, e:cost("stripe:1", "api"))
        assert.are.equal(1000000 + 86400000, e:resets("stripe:1", "api"))
        assert.are.equal(997, e:allowance("stripe:1", "api"))
        assert.are.equal(3, e:explain("stripe:1", "api", 1).value)
        assert.are.equal("c", e:customer("stripe:1").id)
        assert.are.equal("c", seen[2].ev.customer.id)
        assert.is_true(e:set_customer_refs("stripe:1", { "o" }))
        assert.are.same({ "o" }, e:customer("c").refs)
        assert.is_true(e:set_customer_plan("stripe:1", "team_plan"))
        assert.are.equal("team_plan", e:customer("c").plan)
        assert.is_not_nil(e:create_customer_override("stripe:1", "api", { value = 5 }))
        assert.are.equal(5, e:limit("c", "api"))
        assert.is_true(e:remove_customer_override("email:c@x", "api"))
        assert.is_true(e:delete_customer("stripe:1"))
        assert.is_nil(e:customer("c"))
    end)

    it("may be named by refs, resolving at lookup time", function()
        local e = engine()
        e:create_customer("u", nil, { type = "user", refs = { "org-alt" } })
        assert.are.equal("free", e:customer("u").plan)
        assert.are.equal(10, e:limit("u", "api"))
        e:create_customer("acme", "team_plan", { type = "org" })
        assert.is_true(e:set_alt_customer_id("acme", "org-alt"))
        e:create_customer("u2", nil, { type = "user", refs = { "org-alt" } })
        assert.are.equal("team_plan", e:customer("u2").plan)
        assert.is_true(e:increment("u2", "seats"))
        assert.are.equal(1, e:value("acme", "seats"))
        assert.is_true(e:delete_alt_customer_id("org-alt"))
        -- the ref no longer resolves: u2 follows no ref and falls back to the default plan
        assert.are.equal("free", e:customer("u2").plan)
        assert.are.same({ false, "unknown_entitlement" }, { e:increment("u2", "seats") })
    end)

    it("refuses an alt ID held by another customer as ID or alt ID", function()
        local e = engine()
        e:create_customer("a", "free", { alt_ids = { "shared" } })
        e:create_customer("b", "free")
        local seen = recorder(e)
        assert.are.equal("the alt ID is held by another customer",
            H.fails("alt_id_in_use", e:set_alt_customer_id("b", "shared")))
        H.fails("alt_id_in_use", e:set_alt_customer_id("b", "a"))
        H.fails("unknown_customer", e:set_alt_customer_id("nobody", "z"))
        assert.are.equal(0, #seen)
        assert.are.equal("a", e:customer("shared").id)
        local ok, err = e:create_customer("b", nil, { alt_ids = { "shared" } })
        assert.is_nil(ok)
        assert.are.equal("create_customer: 'shared' is already the ID or an alt ID of customer 'a'", err)
        assert.are.same({}, e:customer("b").alt_ids)
        ok = e:create_customer("c", "free", { alt_ids = { "a" } })
        assert.is_nil(ok)
        assert.is_nil(e:customer("c"))
        -- a customer ID may not take the place of an alt ID either
        ok = e:create_customer("shared", "pro")
        assert.are.equal("a", ok.id) -- an existing alt ID updates its customer
        assert.are.equal("pro", e:customer("a").plan)
    end)

    it("is unmapped by delete_alt_customer_id", function()
        local e = engine()
        e:create_customer("a", "free", { alt_ids = { "x", "y" } })
        local seen = recorder(e)
        assert.is_true(e:delete_alt_customer_id("x"))
        assert.are.same({ "customer-set" }, names(seen))
        assert.are.same({ "y" }, seen[1].ev.alt_ids)
        assert.is_nil(e:customer("x"))
        assert.are.same({ false, "unknown_customer" }, { e:allow("x", "api", 1) })
        H.fails("unknown_alt_id", e:delete_alt_customer_id("x"))
        H.fails("unknown_alt_id", e:delete_alt_customer_id("a")) -- a primary ID is not an alt ID
        assert.are.equal(1, #seen)
        assert.is_true(e:set_alt_customer_id("a", "x"))
        assert.are.equal("a", e:customer("x").id)
    end)
end)

describe("set_customer_plan (docs/engine.md 8)", function()
    it("changes the plan with customer-set then customer-plan-changed", function()
        local e = engine()
        e:create_customer("c", "free")
        e:allow("c", "api", 4)
        local seen = recorder(e)
        assert.is_true(e:set_customer_plan("c", "pro"))
        assert.are.same({ "customer-set", "customer-plan-changed" }, names(seen))
        assert.are.equal("pro", seen[1].ev.plan)
        local ev = seen[2].ev
        assert.are.equal("free", ev.previous_plan)
        assert.are.equal("pro", ev.new_plan)
        assert.are.equal("c", ev.customer.id)
        assert.are.equal("pro", ev.customer.plan)
        assert.are.equal("pro", ev.customer.own_plan)
        -- meters keep value and period
        assert.are.equal(4, e:value("c", "api"))
        assert.are.equal(996, e:remaining("c", "api"))
    end)

    it("reports a ref-resolved previous plan by name", function()
        local e = engine()
        e:create_customer("o", "team_plan", { type = "org" })
        e:create_customer("u", nil, { refs = { "o" } })
        local seen = recorder(e, "plan")
        assert.is_true(e:set_customer_plan("u", "pro"))
        assert.are.equal("team_plan", seen[1].ev.previous_plan)
        assert.are.equal("pro", e:customer("u").own_plan)
    end)

    it("says same_plan, unknown_plan and unknown_customer without an event", function()
        local e = engine()
        e:create_customer("c", "free")
        e:create_customer("o", "pro", { type = "org" })
        e:create_customer("u", nil, { refs = { "o" } })
        local seen = recorder(e)
        H.fails("same_plan", e:set_customer_plan("c", "free"))
        H.fails("same_plan", e:set_customer_plan("u", "pro")) -- the resolved plan
        assert.are.equal("unknown plan", H.fails("unknown_plan", e:set_customer_plan("c", "gold")))
        H.fails("unknown_customer", e:set_customer_plan("nobody", "pro"))
        assert.are.equal(0, #seen)
        assert.has_error(function() e:set_customer_plan("c", nil) end)
        assert.has_error(function() e:set_customer_plan("c", "pro", "yes") end)
    end)

    it("starts new meters at the earliest started of the previous meters", function()
        local e = engine()
        e:set_time(5000)
        e:create_customer("c", "team_plan", { type = "org" })
        e:set_time(9000)
        e:allow("c", "api", 1)
        e:set_time(20000)
        assert.is_true(e:set_customer_plan("c", "pro"))
        local m = e:customer("c").meters
        assert.are.equal(5000, m.extra.started)
        assert.are.equal(0, m.extra.value)
        assert.are.equal(5000 + 86400000, e:resets("c", "extra"))
        assert.are.equal(5000, m.api.started) -- kept
        assert.are.equal(1, m.api.value)
        assert.are.equal(5000 + 86400000, e:resets("c", "api"))
    end)

    it("starts new meters now when the previous plan had none", function()
        local e = H.engine([[
policy:
  credits: {r: {}}
  plans:
    flags: {entitlements: {f: {}}}
    metered: {entitlements: {api: {limit: {credit: r, value: 5, resets: true, reset_inc: 1000}}}}
]])
        e:set_time(100)
        e:create_customer("c", "flags")
        e:set_time(700)
        assert.is_true(e:set_customer_plan("c", "metered"))
        assert.are.equal(700, e:customer("c").meters.api.started)
        assert.are.equal(1700, e:resets("c", "api"))
    end)

    it("with overwrite_meters gives each owned entitlement a fresh meter", function()
        local e = engine()
        e:set_time(5000)
        e:create_customer("c", "team_plan", { type = "org" })
        e:allow("c", "api", 60)
        e:increment("c", "seats")
        e:set_time(8000)
        assert.is_true(e:set_customer_plan("c", "pro", { overwrite_meters = true }))
        local m = e:customer("c").meters
        assert.are.equal(0, m.api.value)
        assert.are.equal(8000, m.api.started)
        assert.are.equal(0, m.extra.value)
        assert.are.equal(8000, m.extra.started)
        assert.are.equal(8000 + 86400000, e:resets("c", "api"))
        assert.is_true(e:allow("c", "api", 1000))
        -- back again without overwrite: the kept meter
        e:set_time(9000)
        assert.is_true(e:set_customer_plan("c", "team_plan"))
        assert.are.equal(1000, e:value("c", "api"))
    end)

    it("does not create meters the customer would not own", function()
        local e = engine()
        e:create_customer("u", "free", { type = "user" })
        assert.is_true(e:set_customer_plan("u", "team_plan"))
        local m = e:customer("u").meters
        assert.is_nil(m.seats)
        assert.is_nil(m.projects)
        assert.is_not_nil(m.api)
    end)
end)

describe("meters made at creation (docs/engine.md 2.1.3)", function()
    it("makes one meter per owned limited entitlement, started now", function()
        local e = engine()
        e:set_time(4242)
        local snap = e:create_customer("o", "team_plan", { type = "org" })
        assert.are.same({ credit = "seat", value = 0, limit = 3, remaining = 3, overhead = 0, started = 4242 },
            snap.meters.seats)
        assert.is_nil(snap.meters.projects) -- scope team: not the org's
        assert.is_nil(snap.meters.org_flag)
        assert.are.same({ credit = "request", value = 0, limit = 100, remaining = 100, overhead = 0, started = 4242 },
            snap.meters.api)
        snap = e:create_customer("t", nil, { type = "team", refs = { "o" } })
        assert.is_not_nil(snap.meters.projects)
        assert.is_nil(snap.meters.seats)
    end)

    it("creates a scoped meter on its owner at the first commit", function()
        local e = engine()
        e:create_customer("o", "free", { type = "org" }) -- its plan has no seats
        e:set_time(3000000)
        e:create_customer("u", "team_plan", { refs = { "o" } })
        assert.is_nil(e:customer("o").meters.seats)
        assert.are.equal(0, e:value("u", "seats"))
        assert.is_true(e:increment("u", "seats"))
        local m = e:customer("o").meters.seats
        assert.are.equal(1, m.value)
        assert.are.equal(3000000, m.started)
        assert.is_nil(m.limit) -- the owner's plan has no such limit and no override
    end)
end)
