-- limitr.shared from Lua (docs/shared.md): the options, stats, a region
-- found again by name, a full region. Processes sharing the region are
-- tested from C (tests/c/test_shared.c forks) and under nginx
-- (tests/openresty/shared.sh).
local limitr = require "limitr"

local POLICY = [[
policy:
  credits: {request: {}}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: request, value: 5, mode: hard}}
]]

local RAISED = POLICY:gsub("value: 5", "value: 9")

-- A name no other test uses: regions live as long as the process.
local n = 0
local function fresh_name()
    n = n + 1
    return ("spec-%d-%d"):format(os.time(), n)
end

describe("limitr.shared", function()
    it("meters like limitr.new and reports its region", function()
        local e = assert(limitr.shared(POLICY, { name = fresh_name(), size = "2m" }))
        assert(e:create_customer("k"))
        for _ = 1, 5 do assert.is_true(e:allow("k", "api", 1)) end
        assert.same({ false, "limit" }, { e:allow("k", "api", 1) })
        local st = e:stats()
        assert.equal(2 * 1024 * 1024, st.size)
        assert.equal(1, st.customers)
        assert.equal(1024, st.shards)
        assert.equal(st.size, st.used + st.free)
        assert.equal(0, st.recoveries)
        assert.equal(0, st.journal_overflows)
        assert.equal(0, st.journal_grown)
        assert.equal(0, st.lock_waits) -- one process never waits for itself
        assert.is_true(st.locks >= 8)
    end)

    it("reads a policy from a path", function()
        local path = os.tmpname() .. ".yaml"
        local f = assert(io.open(path, "w"))
        f:write(POLICY)
        f:close()
        local e = assert(limitr.shared(path, { name = fresh_name(), size = 1048576 }))
        os.remove(path)
        assert(e:create_customer("k"))
        assert.equal(5, e:limit("k", "api"))
    end)

    it("attaches to a region of the same name, keeping usage, with the new policy", function()
        local name = fresh_name()
        local e = assert(limitr.shared(POLICY, { name = name, size = "1m" }))
        assert(e:create_customer("k"))
        assert.is_true(e:allow("k", "api", 3))
        local e2 = assert(limitr.shared(RAISED, { name = name, size = "1m" }))
        assert.equal(3, e2:value("k", "api"))
        assert.equal(9, e2:limit("k", "api"))
        assert.equal(9, e:limit("k", "api")) -- the first engine follows
        local none, err = limitr.shared(POLICY, { name = name, size = "2m" })
        assert.is_nil(none)
        assert.equal("limitr.shared: region '" .. name .. "' exists with another size", err)
    end)

    it("refuses a change through a second engine on the region while a decision snippet runs", function()
        local name = fresh_name()
        local policy = [[
policy:
  credits: {t: {}}
  plans:
    p:
      default: true
      entitlements:
        slow: {limit: {credit: t, value: "function() return App.peek() and 10 or 10 end"}}
]]
        local e = assert(limitr.shared(policy, { name = name, size = "2m" }))
        local e2 = assert(limitr.shared(policy, { name = name, size = "2m" }))
        local inside = {}
        e:lib("App", "peek", function()
            inside.delete = { e2:delete_customer("k") }
            inside.time = { e2:set_time(5) }
            inside.customer = e2:customer("k") -- reads work
            return true
        end)
        assert(e:create_customer("k"))
        assert.is_true(e:allow("k", "slow", 3))
        assert.are.equal("engine_busy", inside.delete[3])
        assert.are.equal("engine_busy", inside.time[3])
        assert.are.equal("k", inside.customer.id)
        assert.are.equal(3, e:value("k", "slow")) -- the customer is still there
        assert.is_true(e2:delete_customer("k")) -- outside the decision it may
    end)

    it("refuses bad arguments with a message that names them", function()
        assert.has_error(function() limitr.shared(42) end,
            "bad argument #1 to 'shared' (string expected, got number)")
        assert.has_error(function() limitr.shared(POLICY, 1) end,
            "bad argument #2 to 'shared' (table or nil expected, got number)")
        -- a bad option raises (tests/spec/options_spec.lua has the rest)
        local function raised(opts)
            local ok, err = pcall(limitr.shared, POLICY, opts)
            assert.is_false(ok)
            return err
        end
        assert.matches('limitr.shared: size must be bytes or a string like "64m"',
            raised({ name = fresh_name(), size = "12x" }))
        assert.matches("limitr.shared: size must be at least 1m", raised({ name = fresh_name(), size = "1k" }))
        assert.matches("shared: option 'shards' must be a power of two", raised({ name = fresh_name(), shards = 3 }))
        assert.matches("shared: option 'lock_timeout' must be a whole number from 1 to 1000000000",
            raised({ lock_timeout = 0 }))
        assert.matches("shared: unknown option 'colour'", raised({ colour = "red" }))
        local e, err = limitr.shared("policy: [", { name = fresh_name() })
        assert.is_nil(e)
        assert.truthy(err:find("policy", 1, true))
        e, err = limitr.shared("/no/such/policy.yaml")
        assert.is_nil(e)
        assert.truthy(err:find("/no/such/policy.yaml", 1, true))
    end)

    it("answers nil, 'state region full' when the region has no room, and keeps serving", function()
        local e = assert(limitr.shared(POLICY, { name = fresh_name(), size = "1m" }))
        local made, ok, err, code = 0, true, nil, nil
        while ok do
            ok, err, code = e:create_customer(("customer-%023d"):format(made))
            if ok then made = made + 1 end
        end
        assert.is_nil(ok)
        assert.equal("state region full", err)
        assert.equal("region_full", code)
        assert.is_true(made > 500)
        assert.equal(made, e:stats().customers)
        assert.is_true(e:allow(("customer-%023d"):format(0), "api", 1))
    end)

    it("a full region refuses a draw that needs an owed top-up granted, changing nothing", function()
        local function policy(topup)
            return ([[
policy:
  credits: {token: {}}
  plans:
    free:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 10, mode: hard}}
%s    bare:
      entitlements:
        chat: {limit: {credit: token, value: 10, mode: hard}}
]]):format(topup and "      topups:\n        pack: {credit: token, value: 100, included: true}\n" or "")
        end
        local e = assert(limitr.shared(policy(false), { name = fresh_name(), size = "1m" }))
        assert(e:set_time(1767225600000))
        assert(e:create_customer("k"))
        assert(e:reload(policy(true))) -- k is owed the pack: granted at its first draw
        local made = 0
        while e:create_customer(("filler-%05d"):format(made), "bare") do made = made + 1 end
        assert.is_true(e:check("k", "chat", 30))
        local before = e:export("k")
        local ok, err, code = e:allow("k", "chat", 30) -- past 10: the pack pays
        assert.is_nil(ok)
        assert.equal("state region full", err)
        assert.equal("region_full", code)
        assert.equal(before, e:export("k"))
        assert.is_true(e:allow("k", "chat", 10)) -- within the limit: no grant needed
        -- a customer made now has no room for its pack's grant: it is made,
        -- the pack stays owed (reads count it), and its first draw fails whole
        assert(e:delete_customer("filler-00000"))
        assert(e:create_customer("late")) -- the room of the filler's record
        assert.are.same({}, e:customer("late").grants)
        assert.equal(100, e:credit_remaining("late", "token"))
        assert.equal(110, e:limit("late", "chat"))
        assert.is_nil((e:allow("late", "chat", 30)))
    end)

    it("a call refused for a full region takes no id from its sequence", function()
        local e = assert(limitr.shared(POLICY, { name = fresh_name(), size = "1m" }))
        assert(e:set_time(1767225600000))
        assert(e:create_customer("k"))
        local made = 0
        while e:create_customer(("filler-%05d"):format(made)) do made = made + 1 end
        local before = e:export("k")
        for _, call in ipairs({
            function() return e:add_customer_cap("k", 5) end,
            function() return e:add_customer_grant("k", { credit = "request", value = 5 }) end,
            function() return e:reserve("k", "api", 1) end,
        }) do
            local ok, err, code = call()
            assert.is_nil(ok)
            assert.equal("region_full", code, err)
        end
        -- the export's "seq" holds the next ids: untouched, as k is
        assert.matches('"seq":{"cap":0,"grant":0,"hold":0}', before, 1, true)
        assert.is_true(before == e:export("k"), "a refused call changed the state")
    end)

    it("under nginx, runs only in init_by_lua", function()
        local saved = rawget(_G, "ngx")
        _G.ngx = { get_phase = function() return "access" end }
        local e, err = limitr.shared(POLICY, { name = fresh_name() })
        _G.ngx = saved
        assert.is_nil(e)
        assert.equal("limitr.shared must run in init_by_lua", err)
    end)

    it("delivers events after the unlock: a handler's own decide leaves the caller's answer whole", function()
        local e = assert(limitr.shared(POLICY, { name = fresh_name(), size = "2m" }))
        assert(e:create_customer("k"))
        assert(e:create_customer("other"))
        for _ = 1, 4 do assert(e:allow("other", "api", 1)) end
        local seen = {}
        e:on("meter-changed", function(ev)
            if ev.customer.id ~= "k" then return end
            local st = e:stats()
            seen[#seen + 1] = { value = ev.meter.value, locks = st.locks }
            assert(e:decide("other", "api", 1)) -- other's last unit
        end)
        local before = e:stats().locks
        local ok, reason, limit, remaining = e:decide("k", "api", 2)
        assert.same({ true, nil, 5, 3 }, { ok, reason, limit, remaining })
        assert.equal(1, #seen)
        assert.equal(2, seen[1].value)
        assert.equal(before + 2, seen[1].locks) -- the decide's hold, then stats'
        assert.same({ false, "limit" }, { e:allow("other", "api", 1) })
    end)

    it("gives stats only for a shared engine", function()
        local e = assert(limitr.new(POLICY))
        local none, err, code = e:stats()
        assert.is_nil(none)
        assert.equal("stats: the engine is not shared", err)
        assert.equal("not_shared", code)
    end)
end)
