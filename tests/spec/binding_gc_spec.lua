-- What the Lua binding reads from the engine stays valid while it builds
-- tables: a collection during the build may run a __gc finalizer that calls
-- the engine (here: replaces the refs the snapshot is reading). Under the
-- ASan build (make check-asan) a read of freed memory fails the run.
local limitr = require "limitr"

describe("tables built from the engine's data", function()
    it("survive finalizers that call the engine while they are built", function()
        local e = assert(limitr.new("policy:\n  credits: {t: {}}\n  plans:\n    p: {default: true}\n"))
        local refs = {}
        for i = 1, 50 do refs[i] = string.rep("r", 40) .. i end
        assert(e:create_customer("c", nil, { refs = refs, metadata = { x = string.rep("m", 100) } }))
        local flip = 0
        local mt = { __gc = function()
            flip = flip + 1
            local r = {}
            for i = 1, 50 do r[i] = string.rep("q", 40) .. (i + flip) end
            e:set_customer_refs("c", r)
        end }
        -- An object with a finalizer: a table in 5.4, a proxy in LuaJIT (5.1).
        local function finalized()
            if newproxy then
                local p = newproxy(true)
                getmetatable(p).__gc = mt.__gc
                return p
            end
            return setmetatable({}, mt)
        end
        collectgarbage("setpause", 1) -- a step on most allocations
        collectgarbage("setstepmul", 1000)
        for _ = 1, 300 do
            for _ = 1, 5 do finalized() end
            local s = e:customer("c")
            assert.are.equal(50, #s.refs)
            assert.is_table(e:explain("c", "nope", 1))
        end
        collectgarbage("setpause", 200)
        collectgarbage("setstepmul", 100)
        collectgarbage("restart")
        assert.is_true(flip > 0)
        assert.is_true(collectgarbage("isrunning"))
    end)

    it("keeps scalars nested past the copy depth as nothing, not the whole value", function()
        local core = require "limitr.core"
        local function nest(n, leaf) return string.rep("[", n) .. leaf .. string.rep("]", n) end
        for _, leaf in ipairs({ "12", "true", "null", '"x"', "-1.5e3" }) do
            assert.is_table(core._json_decode(nest(33, leaf)), leaf)
            assert.is_table(core._json_decode("[" .. nest(33, leaf) .. ", 7]"), leaf)
            assert.are.equal(7, core._json_decode("[" .. nest(33, leaf) .. ", 7]")[2], leaf)
        end
    end)

    it("off() with an id no subscription can have removes nothing", function()
        local e = assert(limitr.new("policy:\n  credits: {t: {}}\n  plans:\n    p: {default: true}\n"))
        local calls = 0
        local id = e:on("customer-set", function() calls = calls + 1 end)
        local ok, err, code = e:off(2 ^ 32 + id)
        assert.is_nil(ok)
        assert.are.equal("no_subscription", code)
        e:create_customer("c")
        assert.are.equal(1, calls)
        assert.is_true(e:off(id))
    end)

    it("collects an engine whose own callbacks refer to it", function()
        local POLICY = "policy:\n  credits: {t: {}}\n  plans:\n    p: {default: true}\n"
        local weak = setmetatable({}, { __mode = "v" })
        do
            local e = assert(limitr.new(POLICY))
            e:on("customer-set", function() return e:customer("c") end)
            e:lib("App", "me", function() return e ~= nil end)
            assert(e:create_customer("c"))
            weak.on = e
            -- a host function whose result refers to its engine (a result
            -- that cannot cross: kept until the next call all the same)
            local g = assert(limitr.new((POLICY:gsub("p: {default: true}",
                "p: {default: true, entitlements: {a: {limit: {credit: t, value: "
                .. "\"function() return App.n().n end\"}}}}"))))
            g:lib("App", "n", function() return { n = 5, back = function() return g end } end)
            assert(g:create_customer("c"))
            assert.is_nil(g:limit("c", "a"))
            weak.result = g
            local f = assert(limitr.new(POLICY))
            f:on("customer-set", function() return f end)
            f:close() -- a closed engine lets its functions go too
            weak.closed = f
        end
        for _ = 1, 4 do collectgarbage() end
        assert.is_nil(weak.on)
        assert.is_nil(weak.result)
        assert.is_nil(weak.closed)
    end)

    it("refuses __gc called from inside one of the engine's callbacks, as close()", function()
        local e = assert(limitr.new("policy:\n  credits: {t: {}}\n  plans:\n    p: {default: true}\n"))
        local gc, failed = getmetatable(e).__gc, nil
        e:on("customer-set", function() failed = select(2, pcall(gc, e)) end)
        assert(e:create_customer("c"))
        assert.matches("cannot close the engine from inside one of its callbacks", failed)
        assert.are.equal("c", e:customer("c").id) -- still open, still whole
        gc(e) -- outside any callback it closes the engine
        assert.has_error(function() e:customer("c") end)
    end)

    it("runs every subscriber after one called the engine from a coroutine", function()
        local e = assert(limitr.new("policy:\n  credits: {t: {}}\n  plans:\n    p: {default: true}\n"))
        local ran = {}
        e:on("customer-set", function()
            coroutine.wrap(function() e:customer("x") end)()
            ran[#ran + 1] = "a"
        end)
        e:on("customer-set", function() ran[#ran + 1] = "b" end)
        assert(e:create_customer("x"))
        assert.are.same({ "a", "b" }, ran)
    end)
end)
