-- options_spec: every method's options table is checked (README, "Lua"): an
-- unknown or misspelt option, an option of the wrong type or out of its
-- range raises, naming the method and the option, at the caller's line; a
-- list where named options are expected raises too; an empty table is no
-- options at all.
local limitr = require "limitr"
local H = require "helpers"

local POLICY = [=[
policy:
  credits: {t: {}}
  plans:
    p:
      default: true
      entitlements:
        api: {limit: {credit: t, value: 10}}
        hard: {limit: {credit: t, value: 1}}
    q:
      entitlements:
        api: {limit: {credit: t, value: 5}}
]=]

local function engine()
    return H.engine(POLICY, 1000, "c", "p")
end

-- The message of what f raises; fails when it does not raise.
local function raised(f)
    local ok, err = pcall(f)
    assert.is_false(ok, "expected an error")
    return err
end

describe("options", function()
    it("refuse an unknown option of a decision, naming the method and the options", function()
        local e = engine()
        assert.matches("allow: unknown option 'forse' %(options are caps, force, overhead, event%)",
            raised(function() e:allow("c", "api", 1, { forse = true }) end))
        assert.matches("check: unknown option 'evnt'", raised(function() e:check("c", "api", 1, { evnt = {} }) end))
        assert.matches("decide: unknown option 'x'", raised(function() e:decide("c", "api", 1, { x = 1 }) end))
        assert.matches("increment: unknown option 'x'", raised(function() e:increment("c", "api", { x = 1 }) end))
        assert.matches("decrement: unknown option 'x'", raised(function() e:decrement("c", "api", { x = 1 }) end))
        assert.matches("allow: opts.force must be a boolean",
            raised(function() e:allow("c", "api", 1, { force = "yes" }) end))
        -- nothing was recorded by the refused calls
        assert.equal(0, e:value("c", "api"))
    end)

    it("name the caller's line, not the library's", function()
        local e = engine()
        assert.matches("options_spec.lua:%d+: allow: unknown option",
            raised(function() e:allow("c", "api", 1, { forse = true }) end))
        assert.matches("options_spec.lua:%d+: new: unknown option",
            raised(function() limitr.new(POLICY, nil, { colour = 1 }) end))
    end)

    it("refuse a read's options it does not take", function()
        local e = engine()
        assert.matches("value: unknown option 'pct' %(options are percent, grants%)",
            raised(function() e:value("c", "api", { pct = true }) end))
        assert.matches("limit: unknown option 'percent' %(options are grants%)",
            raised(function() e:limit("c", "api", { percent = true }) end))
        assert.matches("cost: unknown option 'grants' %(options are %)",
            raised(function() e:cost("c", "api", { grants = false }) end))
        assert.matches("projected_exhaustion: unknown option 'bogus' %(options are smoothed%)",
            raised(function() e:projected_exhaustion("c", "api", { bogus = true }) end))
        assert.matches("remaining: opts.percent must be a boolean",
            raised(function() e:remaining("c", "api", { percent = 1 }) end))
        assert.equal(10, e:remaining("c", "api", { percent = false, grants = true }))
    end)

    it("refuse unknown options of the other methods", function()
        local e = engine()
        assert.matches("create_customer: unknown option 'tpye'",
            raised(function() e:create_customer("d", nil, { tpye = "org" }) end))
        assert.matches("add_customer_cap: unknown option 'bogus'",
            raised(function() e:add_customer_cap("c", 5, { bogus = 1 }) end))
        assert.matches("estimate: unknown option 'quantil'",
            raised(function() e:estimate("c", "api", { quantil = 0.99 }) end))
        assert.matches("reserve: unknown option 'bogus'", raised(function() e:reserve("c", "api", 1, { bogus = 1 }) end))
        assert.matches("settle: unknown option 'ttl'", raised(function() e:settle("c", "api", 1, 1, { ttl = 5 }) end))
        assert.matches("observe: unknown option 'bogus'", raised(function() e:observe("c", "api", 1, { bogus = 1 }) end))
        assert.is_nil(e:customer("d"))
        assert.equal(0, e:held("c", "api"))
        assert.matches("set_customer_plan: unknown option 'overwrite'",
            raised(function() e:set_customer_plan("c", "q", { overwrite = true }) end))
        assert.matches("set_customer_plan: opts.overwrite_meters must be a boolean",
            raised(function() e:set_customer_plan("c", "q", { overwrite_meters = "yes" }) end))
        assert.equal("p", e:customer("c").plan) -- neither call changed the plan
        assert.matches("import: unknown option 'replce'",
            raised(function() e:import(e:export(), { replce = true }) end))
        assert.matches("ensure_included_topups: unknown option 'events'",
            raised(function() e:ensure_included_topups("c", { events = false }) end))
        assert.matches("local_margin_breakdown: unknown option 'scale'",
            raised(function() e:local_margin_breakdown("p", {}, { scale = true }) end))
        assert.matches("reset_customer_cap: unknown option 'event'",
            raised(function() e:reset_customer_cap("c", "x", { event = false }) end))
    end)

    it("take an empty table as no options, and refuse a list", function()
        local e = engine()
        assert.equal("d", e:create_customer("d", nil, {}).id)
        assert.equal("d2", e:create_customer("d2", "q", {}).id)
        assert.equal("d", e:create_customer("d", nil, {}).id) -- an update
        assert.matches("create_customer: options are named %(type, label, refs, alt_ids, metadata%), not a list",
            raised(function() e:create_customer("d3", nil, { "org" }) end))
        assert.is_nil(e:customer("d3"))
        assert.matches("create_customer_override: expected a table of named fields, got a list",
            raised(function() e:create_customer_override("c", "api", { "value", 5 }) end))
        assert.same({}, e:customer("c").overrides)
        local h = e:reserve("c", "api", 2, {})
        assert.is_true(e:settle("c", "api", h, 1, {}))
        assert.matches("reserve: options are named", raised(function() e:reserve("c", "api", 2, { 1 }) end))
        assert.matches("settle: options are named", raised(function() e:settle("c", "api", 1, 1, { 1 }) end))
        assert.matches("observe: options are named", raised(function() e:observe("c", "api", 1, { 1 }) end))
        assert.matches("add_customer_grant: expected a table of named fields, got a list",
            raised(function() e:add_customer_grant("c", { "t", 5 }) end))
        assert.equal(1, e:value("c", "api")) -- only the settle above recorded
    end)

    it("of the openers must be whole numbers in range", function()
        assert.matches("new: option 'snippet_instructions' must be a whole number",
            raised(function() limitr.new(POLICY, nil, { snippet_instructions = 0.5 }) end))
        assert.matches("new: option 'snippet_memory' must be a whole number",
            raised(function() limitr.new(POLICY, nil, { snippet_memory = math.huge }) end))
        assert.matches("load: option 'pattern_steps' must be a whole number",
            raised(function() limitr.load("x.yaml", { pattern_steps = 1e300 }) end))
        assert.matches("open: option 'batch_ms' must be a whole number",
            raised(function() limitr.open(POLICY, { store = os.tmpname(), batch_ms = 1.5 }) end))
        assert.matches("open: unknown option 'colour' %(options are store, durability",
            raised(function() limitr.open(POLICY, { store = os.tmpname(), colour = 1 }) end))
    end)

    it("of limitr.shared are whole numbers, a power of two and a name without NUL", function()
        assert.matches("shared: option 'size' must be a whole number",
            raised(function() limitr.shared(POLICY, { name = "o1", size = 1048576.5 }) end))
        assert.matches("shared: option 'shards' must be a whole number",
            raised(function() limitr.shared(POLICY, { name = "o1", shards = 2.5 }) end))
        assert.matches("shared: option 'shards' must be a power of two",
            raised(function() limitr.shared(POLICY, { name = "o1", shards = 3 }) end))
        assert.matches("shared: option 'lock_timeout' must be a whole number",
            raised(function() limitr.shared(POLICY, { name = "o1", lock_timeout = 1.5 }) end))
        assert.matches("shared: option 'name' contains a NUL byte",
            raised(function() limitr.shared(POLICY, { name = "ab\0cd" }) end))
        assert.matches("shared: option 'name' must have 1 to 63 bytes",
            raised(function() limitr.shared(POLICY, { name = ("n"):rep(64) }) end))
        assert.matches("limitr.shared: size must be at least 1m",
            raised(function() limitr.shared(POLICY, { name = "o1", size = "1k" }) end))
        assert.matches("shared: unknown option 'colour' %(options are name, size, shards, lock_timeout, snippet",
            raised(function() limitr.shared(POLICY, { colour = "red" }) end))
    end)
end)

describe("check", function()
    it("takes no force: it answers as allow would without it", function()
        local e = engine()
        assert.same({ false, "limit" }, { e:check("c", "hard", 5) })
        assert.same({ false, "limit" }, { e:check("c", "hard", 5, { force = true }) })
        assert.equal(0, e:value("c", "hard"))
    end)
end)
