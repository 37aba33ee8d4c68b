-- ffi_spec: the LuaJIT FFI front of allow and check (lua/limitr/ffi.lua).
-- Under LuaJIT: the fast path is taken for plain calls on an engine without
-- Lua callbacks, and not otherwise, and every result and error is the one
-- the classic method gives. Under Lua 5.4: the front is not loaded.
local limitr = require "limitr"
local H = require "helpers"

local POLICY = [=[
policy:
  credits:
    seat: {}
    byte: { units: B }
  plans:
    p:
      entitlements:
        seats:
          limit: { credit: seat, value: 2, increment: 1, mode: hard }
        storage:
          limit: { credit: byte, value: 5000, increment: 1, mode: hard }
        sso: {}
        gov:
          limit: { credit: seat, value: 100, governor_enabled: true, governor_capacity: 5,
                   governor_refill_rate: 0.001 }
        org_seats: { scope: org, limit: { credit: seat, value: 2 } }
        broken: { limit: { credit: seat, value: "function() error('boom') end" } }
        quoted:
          limit:
            credit: seat
            value: 1
            on_exceed: "function(ctx) return false, 'a \"quoted\" reason' end"
]=]

local function new_engine()
    return H.engine(POLICY, nil, "c", "p")
end

if not jit then
    describe("the FFI front", function()
        it("is not loaded on a host without LuaJIT", function()
            assert.is_nil(jit)
            assert.is_nil(package.loaded["limitr.ffi"])
            local e = new_engine()
            assert.are.equal("function", type(e.allow))
            assert.is_true(e:allow("c", "seats", 1))
        end)
    end)
    return
end

local ffi = require "ffi"
local front = require "limitr.ffi"
local core = require "limitr.core"

local pack = H.pack

-- Everything a call gives: its results, or its error message.
local function outcome(f)
    local r = pack(pcall(f))
    if not r[1] then return { error = r[2] } end
    return { n = r.n - 1, unpack(r, 2, r.n) }
end

describe("the FFI front", function()
    local state, methods

    before_each(function()
        state = front.state()
        assert.is_table(state, "limitr.ffi is not installed")
        methods = state.mt.__index
    end)

    -- Counts the calls that reach the classic methods (the fast functions
    -- read state.allow / state.check when they fall back).
    local function counting(f)
        local saved_allow, saved_check = state.allow, state.check
        local calls = { allow = 0, check = 0 }
        state.allow = function(...)
            calls.allow = calls.allow + 1
            return saved_allow(...)
        end
        state.check = function(...)
            calls.check = calls.check + 1
            return saved_check(...)
        end
        local ok, err = pcall(f, calls)
        state.allow, state.check = saved_allow, saved_check
        if not ok then error(err, 0) end
    end

    -- Runs f(new engine) with the fast methods installed, then with the
    -- classic ones, and returns both lists of outcomes.
    local function both_ways(f)
        local fast = f(new_engine())
        methods.allow, methods.check = state.allow, state.check
        local ok, classic = pcall(f, new_engine())
        methods.allow, methods.check = state.fast_allow, state.fast_check
        assert(ok, classic)
        return fast, classic
    end

    it("is installed in the engines' methods table", function()
        local e = new_engine()
        assert.are.equal(state.fast_allow, e.allow)
        assert.are.equal(state.fast_check, e.check)
        assert.are.equal(getmetatable(e), state.mt)
        assert.are.equal("function", type(state.allow))
        assert.matches("^limitr%.Engine %(", tostring(e))
        -- the library the FFI calls is the loaded module, not a copy
        assert.is_true(state.lib.limitr_lua_ffi_token() ==
                       ffi.cast("const void *", core._ffi_token))
        assert.is_true(state.lib.limitr_lua_ffi_engine(e) ~= nil)
    end)

    it("is installed once when limitr is required again", function()
        local saved = { limitr = package.loaded.limitr, ffi = package.loaded["limitr.ffi"] }
        package.loaded.limitr, package.loaded["limitr.ffi"] = nil, nil
        local again = require "limitr"
        package.loaded.limitr, package.loaded["limitr.ffi"] = saved.limitr, saved.ffi
        assert.are.equal(state, front.state())
        local e = assert(again.new(POLICY, "yaml"))
        assert.are.equal(state.fast_allow, e.allow)
    end)

    it("takes the fast path for plain calls without callbacks", function()
        counting(function(calls)
            local e = new_engine()
            assert.is_true(e:allow("c", "seats", 1))
            assert.is_true(e:allow("c", "seats")) -- nil is 0
            assert.is_true(e:check("c", "seats", 1))
            assert.are.same({ false, "limit" }, { e:allow("c", "seats", 5) })
            assert.are.same({ false, "limit" }, { e:check("c", "seats", 5) })
            assert.are.same({ false, "unknown_customer" }, { e:allow("x", "seats", 1) })
            assert.are.same({ false, "governor" }, { e:allow("c", "gov", 6) })
            assert.are.same({ false, "no_scope_customer" }, { e:check("c", "org_seats", 1) })
            assert.are.same({ false, 'a "quoted" reason' }, { e:allow("c", "quoted", 2) })
            assert.are.same({ 0, 0 }, { calls.allow, calls.check })
            assert.are.equal(1, e:value("c", "seats"))
        end)
    end)

    it("falls back for units, opts, other types and a closed engine", function()
        counting(function(calls)
            local e = new_engine()
            assert.is_true(e:allow("c", "storage", "1KB"))
            assert.is_true(e:check("c", "storage", "1KB"))
            assert.is_true(e:allow("c", "seats", 1, { event = false }))
            assert.is_true(e:allow("c", "seats", "0"))
            assert.has_error(function() e:check("c\0", "seats", 1) end)
            assert.are.same({ 3, 2 }, { calls.allow, calls.check })
            e:close()
            assert.has_error(function() e:allow("c", "seats", 1) end, "calling 'allow' on bad self (engine is closed)")
            assert.has_error(function() e:check("c", "seats", 1) end, "calling 'check' on bad self (engine is closed)")
            assert.are.same({ 4, 3 }, { calls.allow, calls.check })
        end)
    end)

    it("falls back when the engine has subscribers or host functions", function()
        counting(function(calls)
            local e, seen = new_engine(), 0
            e:on("meter-changed", function() seen = seen + 1 end)
            assert.is_true(e:allow("c", "seats", 1))
            assert.is_true(e:check("c", "seats", 1))
            assert.are.equal(1, seen)
            assert.are.same({ 1, 1 }, { calls.allow, calls.check })
            local e2 = new_engine()
            assert.is_true(e2:allow("c", "seats", 1))
            assert.are.same({ 1, 1 }, { calls.allow, calls.check })
            e2:lib("host", "f", function() return 1 end)
            assert.is_true(e2:allow("c", "seats", 1))
            assert.are.same({ false, "limit" }, { e2:check("c", "seats", 1) })
            assert.are.same({ 2, 2 }, { calls.allow, calls.check })
        end)
    end)

    it("takes the fast path again once every subscription is off", function()
        counting(function(calls)
            local e, seen = new_engine(), 0
            local a = e:on("meter-changed", function() seen = seen + 1 end)
            local b = e:on("*", function() seen = seen + 1 end)
            assert.is_true(e:allow("c", "seats", 1))
            assert.are.same({ 1, 0 }, { calls.allow, calls.check })
            assert.is_true(e:off(a))
            assert.is_true(e:allow("c", "seats", 0.5)) -- b still listens
            assert.are.same({ 2, 0 }, { calls.allow, calls.check })
            assert.are.equal(3, seen)
            assert.is_true(e:off(b))
            assert.is_true(state.lib.limitr_lua_ffi_engine(e) ~= nil)
            assert.is_true(e:allow("c", "seats", 0.5))
            assert.are.same({ false, "limit" }, { e:check("c", "seats", 1) })
            assert.are.same({ 2, 0 }, { calls.allow, calls.check })
            assert.are.equal(3, seen)
            -- a refused subscription leaves nothing behind
            H.fails("invalid_argument", e:on("nope", function() end))
            assert.is_true(e:check("c", "seats", 0))
            assert.are.same({ 2, 0 }, { calls.allow, calls.check })
            -- a subscriber that offs itself while it runs
            local self_sub
            self_sub = e:on("meter-changed", function() assert(e:off(self_sub)) end)
            assert.is_true(e:allow("c", "seats", -1))
            assert.are.same({ 3, 0 }, { calls.allow, calls.check })
            assert.is_true(e:allow("c", "seats", 1))
            assert.are.same({ 3, 0 }, { calls.allow, calls.check })
            -- a lib() function keeps the classic path until it is removed
            e:lib("App", "f", function() end)
            assert.is_true(e:check("c", "seats", 0))
            assert.are.same({ 3, 1 }, { calls.allow, calls.check })
            assert.is_true(e:lib("App", "f", nil))
            assert.is_true(e:check("c", "seats", 0))
            assert.are.same({ 3, 1 }, { calls.allow, calls.check })
        end)
    end)

    it("gives the classic results and errors", function()
        local nan = 0 / 0
        local fast, classic = both_ways(function(e)
            local out = {}
            local function add(f) out[#out + 1] = outcome(f) end
            for _, m in ipairs({ "check", "allow" }) do
                add(function() return e[m](e, "c", "seats", 1) end) -- allowed
                add(function() return e[m](e, "c", "seats", 3) end) -- limit
                add(function() return e[m](e, "c", "seats") end)
                add(function() return e[m](e, "c", "sso", 1e9) end) -- flag
                add(function() return e[m](e, "nobody", "seats", 1) end)
                add(function() return e[m](e, "c", "nothing", 1) end)
                add(function() return e[m](e, "c", "seats", nan) end)
                add(function() return e[m](e, "c", "seats", 1 / 0) end)
                add(function() return e[m](e, "c", "seats", -1) end)
                add(function() return e[m](e, "c", "seats", 1e300) end)
                add(function() return e[m](e, "c", "gov", 6) end) -- governor
                add(function() return e[m](e, "c", "org_seats", 1) end) -- no_scope_customer
                add(function() return e[m](e, "c", "broken", 1) end) -- error
                add(function() return e[m](e, "c", "quoted", 2) end) -- on_exceed's reason
                add(function() return e[m](e, "c", "storage", "2KB") end)
                add(function() return e[m](e, "c", "storage", "2 parsecs") end)
                add(function() return e[m](e, "c\0x", "seats", 1) end)
                add(function() return e[m](e, 1, "seats", 1) end)
                -- wrong types, as method calls so the messages name them
                add(function() local r = e:allow(nil, "seats", 1) return r end)
                add(function() local r = e:check("c", {}, 1) return r end)
                add(function() local r = e:allow("c", "seats", true) return r end)
                add(function() local r = e:check("c", "seats", {}) return r end)
                add(function() local r = e:allow("c", "seats", 1, "opts") return r end)
                add(function() local r = e:check("c") return r end)
                add(function() local r = e:allow() return r end)
                add(function() local r = e.allow(nil, "c", "seats", 1) return r end)
                add(function() local r = e.check({}, "c", "seats", 1) return r end)
                add(function() local r = e.allow("e", "c", "seats", 1) return r end)
            end
            e:close()
            add(function() local r = e:allow("c", "seats", 1) return r end)
            add(function() local r = e:check("c", "seats", 1) return r end)
            add(function() local r = e.allow(e, "c", "seats", 1) return r end)
            add(function() return e.check(e, "c", "seats", 1) end)
            return out
        end)
        assert.are.same(classic, fast)
        -- and they are what the API says
        assert.are.same({ n = 1, true }, fast[1])
        assert.are.same({ n = 2, false, "limit" }, fast[2])
        assert.are.same({ n = 2, false, "unknown_customer" }, fast[5])
        assert.are.same({ n = 2, false, "unknown_entitlement" }, fast[6])
        assert.are.same({ n = 2, false, "invalid_value" }, fast[7])
        assert.are.same({ n = 2, false, "governor" }, fast[11])
        assert.are.same({ n = 2, false, "no_scope_customer" }, fast[12])
        assert.are.same({ n = 2, false, "error" }, fast[13])
        assert.are.same({ n = 2, false, 'a "quoted" reason' }, fast[14])
        assert.matches("bad argument #1 to 'allow' %(string expected, got nil%)", fast[19 + 28].error)
        assert.matches("calling 'allow' on bad self %(engine is closed%)", fast[#fast - 3].error)
    end)

    it("runs policy snippets on the fast path (the engine's own Lua 5.4 VM)", function()
        local policy = [[
policy:
  credits: {c: {}}
  plans:
    p:
      entitlements:
        ok: {limit: {credit: c, value: "function() return 3 end"}}
        bad: {limit: {credit: c, value: "function() error('boom') end"}}
]]
        counting(function(calls)
            local e = assert(limitr.new(policy, "yaml"))
            assert(e:create_customer("c", "p"))
            assert.are.same({ true }, { e:allow("c", "ok", 3) })
            assert.are.same({ false, "limit" }, { e:check("c", "ok", 1) })
            assert.are.same({ false, "error" }, { e:allow("c", "bad", 1) })
            assert.are.same({ false, "error" }, { e:check("c", "bad", 1) })
            assert.are.same({ 0, 0 }, { calls.allow, calls.check })
            assert.are.same({ false, "error" }, { state.allow(e, "c", "bad", 1) })
            assert.are.same({ false, "error" }, { state.check(e, "c", "bad", 1) })
        end)
    end)

    it("survives the collection of other engines", function()
        local allow = new_engine().allow
        collectgarbage()
        collectgarbage()
        local e = new_engine()
        for _ = 1, 1000 do assert.is_true(allow(e, "c", "sso", 1)) end
        e = nil
        collectgarbage()
        collectgarbage()
    end)
end)
