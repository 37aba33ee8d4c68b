-- reservations_spec.lua: reserve / settle / release / held (docs/engine.md
-- 19) with its worked numbers.
local H = require "helpers"

local POLICY = [[
policy:
  credits:
    token: {price: {amount: 0.1}}
  hold_ttl: 1min
  plans:
    p:
      default: true
      entitlements:
        chat:
          limit: {credit: token, value: 10, governor_enabled: true, governor_capacity: 10,
                  governor_refill_rate: 0.000000001}
        other: {limit: {credit: token, value: 100}}
        soft: {limit: {credit: token, value: 0, mode: soft}}
]]

local function setup()
    local e = H.engine(POLICY, 0, "u", "p")
    assert(e:add_customer_cap("u", 1, { id = "budget" }))
    return e
end

describe("a reservation of 6 on a limit of 10, settled at 3", function()
    it("holds room in the limit, the cap and the governor, then gives back the rest", function()
        local e = setup()
        local h1 = assert(e:reserve("u", "chat", 6))
        assert.are.equal(6, e:held("u", "chat"))
        assert.are.equal(0, e:value("u", "chat"))
        assert.are.equal(0.6, e:customer_cap("u", "budget").held)
        assert.are.equal(4, e:allowance("u", "chat"))
        assert.is_false(e:check("u", "chat", 5))
        assert.is_true(e:check("u", "chat", 4))
        assert.is_false((e:reserve("u", "chat", 5)))
        assert.are.same({ false, "cap" }, { e:allow("u", "other", 5) }) -- 0.5 rune: 0.6 held
        assert.is_true(e:settle("u", "chat", h1, 3))
        assert.are.equal(3, e:value("u", "chat"))
        assert.are.equal(0, e:held("u", "chat"))
        assert.are.equal(0.3, e:customer_cap("u", "budget").meter_value)
        assert.are.equal(0, e:customer_cap("u", "budget").held)
        assert.are.equal(7, e:allowance("u", "chat"))
        assert.are.equal(7, e:remaining("u", "chat"))
        assert.is_false(e:release("u", "chat", h1))
    end)

    it("settles above the reservation: overage, past the cap, no tokens left", function()
        local e = setup()
        assert.is_true(e:allow("u", "chat", 5))
        local h = assert(e:reserve("u", "chat", 5))
        local seen = H.recorder(e, "^meter")
        assert.is_true(e:settle("u", "chat", h, 8))
        assert.are.equal(13, e:value("u", "chat"))
        assert.are.equal("meter-overage", seen[1].name)
        assert.are.equal(3, seen[1].ev.overage)
        assert.are.equal(1.3, e:customer_cap("u", "budget").meter_value)
        assert.is_true(e:allowance("u", "chat") <= 0) -- no tokens left
        assert.are.same({ false, "cap" }, { e:allow("u", "chat", 1) })
    end)
end)

describe("release and expiry", function()
    it("release gives everything back and records nothing", function()
        local e = setup()
        local h = assert(e:reserve("u", "chat", 6))
        assert.is_true(e:release("u", "chat", h))
        assert.is_false(e:release("u", "chat", h))
        assert.are.equal(0, e:held("u", "chat"))
        assert.are.equal(0, e:customer_cap("u", "budget").held)
        assert.are.equal(10, e:allowance("u", "chat"))
        assert.are.equal(0, e:value("u", "chat"))
    end)

    it("a hold dies at its ttl and holds nothing from then", function()
        local e = setup()
        local h = assert(e:reserve("u", "chat", 6, { ttl = 1000 }))
        e:set_time(999)
        assert.are.equal(6, e:held("u", "chat"))
        e:set_time(1000)
        assert.are.equal(0, e:held("u", "chat"))
        assert.is_true(e:check("u", "chat", 10 - 6)) -- tokens were taken at reserve
        assert.is_false(e:release("u", "chat", h))
        local h2 = assert(e:reserve("u", "chat", 1)) -- the policy's hold_ttl: 1 min
        e:set_time(1000 + 59999)
        assert.are.equal(1, e:held("u", "chat"))
        e:set_time(1000 + 60000)
        assert.are.equal(0, e:held("u", "chat"))
        assert.is_true(e:settle("u", "chat", h2, 1)) -- a dead hold still records
        assert.are.equal(1, e:value("u", "chat"))
    end)
end)

describe("hold ids", function()
    it("are numbers in Lua, \"h<n>\" as text; any other shape names no hold", function()
        local e = setup()
        local h = assert(e:reserve("u", "other", 1))
        assert.are.equal("number", type(h))
        assert.is_true(h >= 1 and h == math.floor(h))
        local n = tostring(h)
        for _, bad in ipairs({ "h", "h0", "h0" .. n, n, "H" .. n, "h" .. n .. " ", "h" .. n .. "x",
                               "h18446744073709551616", "h99999999999999999999999",
                               0, -h, h + 0.5, h + 1 }) do
            assert.is_false(e:release("u", "other", bad), tostring(bad))
        end
        assert.are.equal(1, e:held("u", "other"))
        assert.has_error(function() e:release("u", "other", {}) end)
        assert.is_true(e:release("u", "other", "h" .. n)) -- the C API's text names it too
        local f = assert(e:reserve("u", "other", 1))
        assert.is_true(e:settle("u", "other", "h" .. tostring(f), 1))
        assert.are.equal(0, e:held("u", "other"))
        assert.are.equal(1, e:value("u", "other"))
    end)

    it("count up across holds", function()
        local e = setup()
        local a = assert(e:reserve("u", "other", 1))
        local b = assert(e:reserve("u", "other", 1))
        assert.are.equal(a + 1, b)
        assert.is_true(e:release("u", "other", a))
        assert.is_true(e:release("u", "other", b + 0.0)) -- a whole float names it too
    end)
end)

describe("reserve without a value", function()
    it("holds the learned estimate, or 1", function()
        local e = setup()
        local h = assert(e:reserve("u", "other"))
        assert.are.equal(1, e:held("u", "other"))
        assert(e:release("u", "other", h))
        for _ = 1, 5 do assert(e:observe("u", "other", 4)) end
        h = assert(e:reserve("u", "other", nil, { quantile = 0.5 }))
        assert.are.equal(4, e:held("u", "other"))
        assert.is_true(e:settle("u", "other", h, 2))
        assert.are.equal(6, e:estimate("u", "other").samples)
    end)

    it("refuses what a check would", function()
        local e = setup()
        assert.are.same({ false, "invalid_value" }, { e:reserve("u", "chat", 0) })
        assert.are.same({ false, "cap" }, { e:reserve("u", "chat", 11) }) -- caps first
        assert(e:remove_customer_cap("u", "budget"))
        assert.are.same({ false, "governor" }, { e:reserve("u", "chat", 11) })
        assert.are.same({ false, "limit" }, { e:reserve("u", "other", 101) })
        assert.are.same({ false, "unknown_customer" }, { e:reserve("ghost", "chat", 1) })
        H.fails("invalid_argument", e:reserve("u", "chat", 1, { ttl = -1 }))
    end)
end)

describe("reservations and grants", function()
    it("set aside the grant balance the part past the limit needs", function()
        local e = setup()
        assert(e:remove_customer_cap("u", "budget"))
        assert(e:add_customer_grant("u", { credit = "token", value = 10, id = "g" }))
        local h = assert(e:reserve("u", "soft", 6))
        assert.are.equal(4, e:credit_remaining("u", "token")) -- 6 set aside
        assert.is_true(e:settle("u", "soft", h, 6))
        assert.are.equal(4, e:credit_remaining("u", "token")) -- drawn
        assert.are.equal(6, e:value("u", "soft"))
    end)
end)

describe("a dead hold", function()
    it("holds nothing in a shared cap, whoever looks", function()
        local e = H.engine(POLICY, 0)
        assert(e:create_customer("org", nil, { type = "org" }))
        assert(e:create_customer("a", nil, { refs = { "org" } }))
        assert(e:create_customer("b", nil, { refs = { "org" } }))
        assert(e:add_customer_cap("org", 1, { id = "budget", shared = true }))
        assert(e:reserve("a", "other", 8, { ttl = 100 }))
        assert.are.same({ false, "cap" }, { e:allow("b", "other", 3) })
        e:set_time(100)
        assert.are.equal(0, e:customer_cap("org", "budget").held)
        assert.is_true(e:allow("b", "other", 3))
    end)
end)

describe("reservations at the edges", function()
    it("count held room when a call needs grants past the limit", function()
        local e = H.engine(POLICY, 0, "u", "p")
        assert.is_true(e:allow("u", "other", 98))
        assert(e:reserve("u", "other", 2))
        assert(e:add_customer_grant("u", { credit = "token", value = 3 }))
        assert.is_false(e:check("u", "other", 5)) -- 98 + 2 held + 5 needs 5 of grants
        assert.is_true(e:check("u", "other", 3))
    end)

    it("count held room on a hard_trailing limit", function()
        local e = H.engine([[
policy:
  credits: {t: {}}
  plans:
    p:
      default: true
      entitlements:
        e: {limit: {credit: t, value: 10, hard_trailing: true}}
]], 0, "u", "p")
        assert(e:reserve("u", "e", 6))
        assert(e:reserve("u", "e", 6)) -- 6 held < 10: this one may cross
        assert.are.same({ false, "limit" }, { e:reserve("u", "e", 6) })
    end)

    it("a dead hold's governor tokens come back when it is removed", function()
        local e = setup()
        assert(e:reserve("u", "chat", 6, { ttl = 1000 }))
        e:set_time(1000)
        assert.is_true(e:allow("u", "chat", 1)) -- removes the dead hold
        assert.are.equal(9, e:allowance("u", "chat"))
    end)

    it("a deleted customer's holds leave the caps of others", function()
        local e = H.engine(POLICY, 0)
        assert(e:create_customer("org", nil, { type = "org" }))
        assert(e:create_customer("a", nil, { refs = { "org" } }))
        assert(e:create_customer("b", nil, { refs = { "org" } }))
        assert(e:add_customer_cap("org", 1, { id = "budget", shared = true }))
        assert(e:reserve("a", "other", 8))
        assert(e:delete_customer("a"))
        assert.are.equal(0, e:customer_cap("org", "budget").held)
        assert.is_true(e:allow("b", "other", 3))
    end)

    it("a settle that cannot be recorded keeps its hold", function()
        local e = setup()
        assert(e:remove_customer_cap("u", "budget"))
        assert.is_true(e:allow("u", "soft", 5))
        local h = assert(e:reserve("u", "soft", 5))
        assert.are.same({ false, "invalid_value" }, { e:settle("u", "soft", h, 1e20) })
        assert.are.equal(5, e:held("u", "soft"))
        assert.is_true(e:release("u", "soft", h))
    end)

    it("refuse odd hold ids", function()
        local e = setup()
        local h = assert(e:reserve("u", "chat", 1))
        assert.are.equal(1, h)
        assert.is_false(e:release("u", "chat", "h01"))
        assert.is_false(e:release("u", "chat", "h"))
        assert.is_true(e:release("u", "chat", h))
    end)

    it("refuse a NaN value as allow and settle do, holding nothing", function()
        local e = setup()
        local before = e:export()
        assert.are.same({ false, "invalid_value" }, { e:reserve("u", "chat", 0 / 0) })
        assert.are.same({ false, "invalid_value" }, { e:allow("u", "chat", 0 / 0) })
        assert.are.same(before, e:export())
        local h = assert(e:reserve("u", "chat", 1))
        assert.are.same({ false, "invalid_value" }, { e:settle("u", "chat", h, 0 / 0) })
        assert.are.equal(1, e:held("u", "chat"))
    end)
end)

describe("held room and forced calls", function()
    -- A settle records usage that already happened (with force): the room
    -- other holds keep denies it no more than the limit does, and so for
    -- any forced call.
    it("a settle past the room other holds leave is recorded, and its hold goes", function()
        local e = H.engine(POLICY, 0, "u", "p")
        local h1 = assert(e:reserve("u", "other", 80))
        assert(e:reserve("u", "other", 20))
        assert.is_true(e:settle("u", "other", h1, 90))
        assert.are.equal(90, e:value("u", "other"))
        assert.are.equal(20, e:held("u", "other"))
        assert.are.same({ false, "limit" }, { e:allow("u", "other", 5) })
        assert.is_true(e:allow("u", "other", 5, { force = true }))
        assert.are.equal(95, e:value("u", "other"))
        assert.are.equal(20, e:held("u", "other"))
    end)
end)

describe("settle and grants", function()
    it("draws first from the grants the hold set aside, whatever the order says now", function()
        local e = assert(require("limitr").new([[
policy:
  credits:
    token: {}
  plans:
    free:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 0, mode: hard}}
]]))
        local day = 86400000
        e:set_time(1700000000000)
        assert(e:create_customer("u"))
        assert(e:add_customer_grant("u", { credit = "token", value = 10, id = "a",
                                           expires_on = 1700000000000 + 2 * day }))
        local h = assert(e:reserve("u", "chat", 4)) -- sets 4 aside in a
        -- c expires sooner: expires_first would draw it first now
        assert(e:add_customer_grant("u", { credit = "token", value = 10, id = "c",
                                           expires_on = 1700000000000 + day }))
        -- another customer with a grant of the same id: a handler's call on
        -- it draws in its own order (b first), not the settle's
        assert(e:create_customer("z"))
        assert(e:add_customer_grant("z", { credit = "token", value = 10, id = "a" }))
        assert(e:add_customer_grant("z", { credit = "token", value = 10, id = "b",
                                           expires_on = 1700000000000 + day }))
        e:on("meter-changed", function(ev)
            if ev.customer.id == "u" then assert(e:allow("z", "chat", 5)) end
        end)
        assert.is_true(e:settle("u", "chat", h, 4))
        local z = {}
        for _, g in ipairs(e:customer("z").grants) do z[g.id] = g.value end
        assert.same({ a = 10, b = 5 }, z)
        local left = {}
        for _, g in ipairs(e:customer("u").grants) do left[g.id] = g.value end
        assert.same({ a = 6, c = 10 }, left)
        -- past what the hold set aside, the order goes on as usual
        assert.is_true(e:allow("u", "chat", 3))
        left = {}
        for _, g in ipairs(e:customer("u").grants) do left[g.id] = g.value end
        assert.same({ a = 6, c = 7 }, left)
    end)
end)

describe("a dead hold's governor tokens", function()
    it("count as given back in every read from its expiry on, and once", function()
        local e = assert(require("limitr").new([[
policy:
  credits:
    token: {}
  plans:
    free:
      default: true
      entitlements:
        chat:
          limit: {credit: token, value: 100, mode: hard, governor_enabled: true,
                  governor_capacity: 10, governor_refill_rate: 0.000000001}
]]))
        e:set_time(1700000000000)
        assert(e:create_customer("u"))
        local h = assert(e:reserve("u", "chat", 6, { ttl = 1000 }))
        assert.same({ false, "governor" }, { e:check("u", "chat", 5) })
        e:advance(2000)
        assert.is_true(e:check("u", "chat", 5)) -- before anything removed it
        assert.equal(10, e:allowance("u", "chat"))
        -- settling the dead hold gives its tokens back once, then records 2
        assert.is_true(e:settle("u", "chat", h, 2))
        assert.equal(8, e:allowance("u", "chat"))
        assert.is_true(e:allow("u", "chat", 8))
        assert.same({ false, "governor" }, { e:allow("u", "chat", 1) })
    end)
end)

describe("settle and the cost function", function()
    it("runs it once: the recording and the learning use the same overhead", function()
        local e = H.engine([[
policy:
  credits:
    token:
      overhead: "function(units, ctx) App.cost(units); return units * (ctx and ctx.rate or 0.01) end"
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 100}}
]], 0, "u", "p")
        local calls = {}
        e:lib("App", "cost", function(units) calls[#calls + 1] = units end)
        local h = assert(e:reserve("u", "chat", 6))
        calls = {} -- reserve priced its hold
        assert.is_true(e:settle("u", "chat", h, 4, { event = { rate = 0.5 } }))
        assert.are.same({ 4 }, calls)
        assert.are.equal(2, e:customer("u").meters.chat.overhead)
        assert.are.equal(2, e:estimate("u", "chat", { quantile = 0.5 }).overhead)
        -- opts.overhead wins, and the function does not run
        h = assert(e:reserve("u", "chat", 6))
        calls = {}
        assert.is_true(e:settle("u", "chat", h, 4, { overhead = 1 }))
        assert.are.same({}, calls)
        assert.are.equal(3, e:customer("u").meters.chat.overhead)
    end)

    it("reserve decides as check does: an overhead cap's gate prices at the credit's rate", function()
        local e = H.engine([[
policy:
  credits:
    image: {overhead: "function(units) return units * 0.01 end", overhead_cost: 0.005}
  plans:
    p:
      default: true
      entitlements:
        img: {limit: {credit: image, value: 1000}}
]], 0, "u", "p")
        assert(e:add_customer_cap("u", 1, { id = "spend", overhead_cost = true }))
        assert.is_true(e:check("u", "img", 182)) -- 0.91 at the rate
        assert.is_true(e:check("u", "img", 201) == false) -- 1.005
        assert(e:reserve("u", "img", 182))
        assert.are.equal(1.82, e:customer_cap("u", "spend").held) -- what the call costs
        assert.are.same({ false, "cap" }, { e:reserve("u", "img", 1) })
    end)
end)

describe("settle's recording", function()
    local RESETTING = [[
policy:
  credits: {token: {}}
  hold_ttl: 1min
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 100, resets: true, reset_inc: 100}}
        flag: {}
]]

    it("refuses an unknown customer or entitlement with the lookup's reason, learning nothing", function()
        local e = H.engine(RESETTING, 0, "u", "p")
        local h = assert(e:reserve("u", "chat", 5))
        assert.are.same({ false, "unknown_customer" }, { e:settle("nobody", "chat", h, 1) })
        assert.are.same({ false, "unknown_entitlement" }, { e:settle("u", "nothing", h, 1) })
        assert.are.equal(5, e:held("u", "chat"))
        assert.is_nil((e:estimate("u", "chat")))
        assert.is_true(e:settle("u", "chat", h, 2))
        assert.are.equal(2, e:value("u", "chat"))
    end)

    it("fires meter-reset when the period rolled since the reservation, once", function()
        local e = H.engine(RESETTING, 0, "u", "p")
        assert.is_true(e:allow("u", "chat", 7))
        local h = assert(e:reserve("u", "chat", 5))
        e:set_time(150)
        local seen = {}
        e:on("*", function(ev, name)
            if name:match("^meter") then
                seen[#seen + 1] = { name, ev.previous_value, ev.period_start, ev.meter.value }
            end
        end)
        assert.is_true(e:settle("u", "chat", h, 3))
        assert.are.same({ { "meter-reset", 7, 100, 3 }, { "meter-changed", nil, nil, 3 } }, seen)
        assert.are.equal(3, e:value("u", "chat"))
        assert.is_true(e:allow("u", "chat", 1))
        assert.are.same({ "meter-changed", nil, nil, 4 }, seen[3])
        assert.are.equal(3, #seen)
    end)
end)

describe("reserve and release across a period boundary", function()
    it("write the roll-over and fire meter-reset once, showing the no-op", function()
        local e = H.engine([[
policy:
  credits: {token: {}}
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 100, resets: true, reset_inc: 100}}
]], 0, "u", "p")
        local seen = {}
        e:on("*", function(ev, name)
            seen[#seen + 1] = { name, ev.previous_value, ev.period_start, ev.meter.value }
        end)
        assert.is_true(e:allow("u", "chat", 7))
        e:set_time(150)
        local h = assert(e:reserve("u", "chat", 5))
        assert.are.same({ "meter-reset", 7, 100, 0 }, seen[2])
        e:set_time(250)
        assert.is_true(e:release("u", "chat", h))
        assert.are.same({ "meter-reset", 0, 200, 0 }, seen[3])
        assert.is_true(e:allow("u", "chat", 1))
        assert.are.same({ "meter-changed", nil, nil, 1 }, seen[4])
        assert.are.equal(4, #seen)
    end)
end)

describe("a reserve or settle that fails", function()
    local GOVERNED = [[
policy:
  credits: {token: {}}
  plans:
    p:
      default: true
      entitlements:
        chat:
          limit: {credit: token, value: 1000, resets: true, reset_inc: 100, governor_enabled: true,
                  governor_capacity: 2000, governor_refill_rate: 0.000000001}
]]

    it("a reserve refused for too many holds writes nothing, its roll-over included", function()
        local e = H.engine(GOVERNED, 0, "u", "p")
        for _ = 1, 1024 do assert(e:reserve("u", "chat", 0.5)) end
        local tokens = e:allowance("u", "chat")
        e:set_time(150)
        local seen = {}
        e:on("meter-reset", function() seen[#seen + 1] = "reset" end)
        local ok, err, code = e:reserve("u", "chat", 0.5)
        assert.is_nil(ok)
        assert.are.equal("too_many_holds", code, err)
        assert.are.same({}, seen)
        assert.are.equal(tokens, e:allowance("u", "chat"))
        assert.is_true(e:allow("u", "chat", 1)) -- the roll-over is still to come
        assert.are.same({ "reset" }, seen)
    end)

    it("settling no hold still removes the dead holds first, whatever hold is named", function()
        local function after(hold)
            local e = H.engine([[
policy:
  credits: {token: {}}
  plans:
    p:
      default: true
      entitlements:
        chat:
          limit: {credit: token, value: 100, governor_enabled: true, governor_capacity: 10,
                  governor_refill_rate: 0.000000001}
]], 0, "u", "p")
            assert(e:reserve("u", "chat", 6, { ttl = 1000 }))
            e:set_time(2000) -- the hold is dead: its 6 tokens count as back
            assert.is_true(e:settle("u", "chat", hold, 1))
            return e:allowance("u", "chat")
        end
        assert.are.equal(9, after("h999"))
        assert.are.equal(9, after(-1))
        assert.are.equal(9, after(0))
    end)
end)

describe("unit strings", function()
    local UNITS = [[
policy:
  credits:
    data: {units: MB}
  plans:
    p:
      default: true
      entitlements:
        disk: {limit: {credit: data, value: 5GB}}
        beta: {}
]]

    it("reserve, settle and observe take them in the limit's credit units, as allow does", function()
        local e = H.engine(UNITS, 0, "u", "p")
        local h = assert(e:reserve("u", "disk", "2GB"))
        assert.are.equal(2000, e:held("u", "disk"))
        assert.is_false(e:check("u", "disk", "3001MB"))
        assert.is_true(e:settle("u", "disk", h, "1.5 GB"))
        assert.are.equal(1500, e:customer("u").meters.disk.value)
        assert.are.equal(0, e:held("u", "disk"))
        -- the hold named as text, the value a plain number string
        h = assert(e:reserve("u", "disk", "100"))
        assert.is_true(e:settle("u", "disk", "h" .. h, "50"))
        assert.are.equal(1550, e:customer("u").meters.disk.value)
        -- settle learned 1500 then 50; observe learns in MB too
        assert.is_true(e:observe("u", "disk", "1GB"))
        assert.are.equal(3, e:estimate("u", "disk").samples)
        assert.is_true(e:settle("u", "beta", 7, "1GB")) -- a flag records nothing
    end)

    it("refuse a bad one before anything changes", function()
        local e = H.engine(UNITS, 0, "u", "p")
        local h = assert(e:reserve("u", "disk", "1GB"))
        local before = e:export()
        assert.are.same({ false, "invalid_value" }, { e:reserve("u", "disk", "ten") })
        assert.are.same({ false, "invalid_value" }, { e:reserve("u", "disk", "2h") })
        assert.are.same({ false, "invalid_value" }, { e:settle("u", "disk", h, "2h") })
        assert.are.same({ false, "invalid_value" }, { e:settle("u", "disk", h, "-1MB") })
        assert.are.same({ false, "invalid_value" }, { e:observe("u", "disk", "ten") })
        assert.are.same({ false, "invalid_value" }, { e:observe("u", "disk", "1 min") })
        assert.are.equal(before, e:export())
        assert.has_error(function() e:reserve("u", "disk", "1\0MB") end)
        assert.is_true(e:release("u", "disk", h))
    end)
end)
