-- limitr.resty.enforce (docs/shared.md) against a stand-in `ngx`: every
-- answer of the hosting table (200 with RateLimit-*, 429 with Retry-After
-- and its JSON body, 403, 401, 400, 500 with one log line that never holds
-- the key), the customer and value sources of opts, e:decide's values, and
-- an enforce that passes allocating nothing. Under LuaJIT e:decide goes
-- through the FFI (lua/limitr/ffi.lua); under Lua 5.4 through the C API.
local limitr = require "limitr"

local POLICY = [[
policy:
  credits: {request: {}, megabyte: {units: MB}}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: request, value: 3, mode: hard, resets: true, reset_inc: 1min}}
        upload: {limit: {credit: megabyte, value: 10MB, mode: hard}}
        beta: {}
        quirky:
          limit:
            credit: request
            value: "function() error('boom') end"
]]

-- A stand-in for the parts of ngx that enforce uses.
local function fake_ngx(vars)
    local n = { var = vars or {}, header = {}, status = 200, said = {}, logs = {},
                ERR = 4, HTTP_UNAUTHORIZED = 401 }
    function n.say(s) n.said[#n.said + 1] = s end
    function n.exit(code) n.exited = code return code end
    function n.log(_, ...) n.logs[#n.logs + 1] = table.concat({ ... }) end
    return n
end

local function with_ngx(vars, f)
    local saved = rawget(_G, "ngx")
    local n = fake_ngx(vars)
    _G.ngx = n
    package.loaded["limitr.resty"] = nil
    local resty = require "limitr.resty"
    local ok, err = pcall(f, resty, n)
    _G.ngx = saved
    package.loaded["limitr.resty"] = nil
    assert(ok, err)
    return n
end

local function engine()
    local e = assert(limitr.new(POLICY))
    assert(e:set_time(1000000))
    assert(e:create_customer("key-1"))
    return e
end

describe("limitr.resty.enforce", function()
    it("lets a request through with RateLimit-* fields from the same decision", function()
        local e = engine()
        local opts = { customer = { header = "X-Api-Key" }, entitlement = "api" }
        with_ngx({ http_x_api_key = "key-1" }, function(resty, n)
            assert.is_true(resty.enforce(e, opts))
            assert.equal(3, n.header["RateLimit-Limit"])
            assert.equal(2, n.header["RateLimit-Remaining"])
            assert.equal(60, n.header["RateLimit-Reset"])
            assert.is_nil(n.exited)
            assert.is_true(resty.enforce(e, opts))
            assert.is_true(resty.enforce(e, opts))
            assert.equal(0, n.header["RateLimit-Remaining"])
        end)
    end)

    it("answers 429 with Retry-After, the fields and a JSON body", function()
        local e = engine()
        local opts = { customer = "key-1", entitlement = "api", value = 3 }
        with_ngx({}, function(resty, n)
            assert.is_true(resty.enforce(e, opts))
            assert.equal(429, resty.enforce(e, { customer = "key-1", entitlement = "api" }))
            assert.equal(429, n.status)
            assert.equal(60, n.header["Retry-After"])
            assert.equal("application/json", n.header["Content-Type"])
            assert.equal(0, n.header["RateLimit-Remaining"])
            assert.equal('{"error":"limit","reason":"limit","entitlement":"api","retry_after_ms":60000}',
                n.said[1])
        end)
    end)

    it("gives retry_after_ms null when no wait helps, and a status of the host's choice", function()
        local e = engine()
        with_ngx({}, function(resty, n)
            assert.equal(503, resty.enforce(e, { customer = "key-1", entitlement = "upload",
                                                 value = "20MB", status = 503 }))
            assert.is_nil(n.header["Retry-After"])
            assert.equal('{"error":"limit","reason":"limit","entitlement":"upload","retry_after_ms":null}',
                n.said[1])
        end)
    end)

    it("answers 403 for refusals that are not about usage, 401 without a key, 400 for a bad value", function()
        local e = engine()
        with_ngx({ arg_key = "nobody" }, function(resty, n)
            assert.equal(403, resty.enforce(e, { customer = { arg = "key" }, entitlement = "api" }))
            assert.equal('{"error":"forbidden","reason":"unknown_customer"}', n.said[1])
        end)
        with_ngx({}, function(resty, n)
            assert.equal(403, resty.enforce(e, { customer = "key-1", entitlement = "nothing" }))
            assert.equal('{"error":"forbidden","reason":"unknown_entitlement"}', n.said[1])
        end)
        with_ngx({}, function(resty, n)
            assert.equal(401, resty.enforce(e, { customer = { var = "remote_user" }, entitlement = "api" }))
            assert.equal('{"error":"missing_customer"}', n.said[1])
        end)
        with_ngx({}, function(resty, n)
            assert.equal(401, resty.enforce(e, { customer = function() return nil end, entitlement = "api" }))
        end)
        with_ngx({}, function(resty, n)
            assert.equal(400, resty.enforce(e, { customer = "key-1", entitlement = "api", value = "lots" }))
            assert.equal('{"error":"invalid_value"}', n.said[1])
        end)
    end)

    it("answers 500 with one log line without the key for errors, failed snippets and raises", function()
        local e = engine()
        local n = with_ngx({}, function(resty)
            assert.equal(500, resty.enforce(e, { customer = "key-1", entitlement = "quirky" }))
            assert.equal(500, resty.enforce(e, { customer = function() error("key-1 broke") end,
                                                 entitlement = "api" }))
            assert.equal(500, resty.enforce(e, { customer = "key-1", entitlement = "api",
                                                 value = function() error("no value") end }))
        end)
        assert.equal(3, #n.logs)
        assert.equal('{"error":"internal"}', n.said[1])
        for _, line in ipairs(n.logs) do
            assert.matches("^limitr: ", line)
        end
        assert.is_nil(n.logs[1]:find("key-1", 1, true))
    end)

    it("flags and headers = false set no RateLimit-* fields", function()
        local e = engine()
        with_ngx({}, function(resty, n)
            assert.is_true(resty.enforce(e, { customer = "key-1", entitlement = "beta" }))
            assert.is_nil(n.header["RateLimit-Limit"])
            assert.is_true(resty.enforce(e, { customer = "key-1", entitlement = "api", headers = false }))
            assert.is_nil(n.header["RateLimit-Limit"])
        end)
    end)

    it("passes opts.event (a table or a function) to the decision", function()
        local e = engine()
        local seen = {}
        e:on("meter-changed", function(ev) seen[#seen + 1] = ev.event_data and ev.event_data.route end)
        with_ngx({}, function(resty)
            assert.is_true(resty.enforce(e, { customer = "key-1", entitlement = "api",
                                              event = { route = "/a" } }))
            assert.is_true(resty.enforce(e, { customer = "key-1", entitlement = "api",
                                              event = function() return { route = "/b" } end }))
            assert.has_error(function()
                resty.enforce(e, { customer = "key-1", entitlement = "api", event = 5 })
            end, "limitr.resty: opts.event must be a table or a function")
        end)
        assert.same({ "/a", "/b" }, seen)
    end)

    it("refuses opts without a customer or an entitlement", function()
        local e = engine()
        with_ngx({}, function(resty)
            assert.has_error(function() resty.enforce(e, { entitlement = "api" }) end,
                "limitr.resty: opts.customer must be a string, {header=}, {arg=}, {var=} or a function")
            assert.has_error(function() resty.enforce(e, { customer = "k" }) end,
                "limitr.resty: opts.entitlement must be a string")
        end)
    end)

    it("refuses a bad value or status before anything is counted", function()
        local e = engine()
        with_ngx({}, function(resty)
            for _, status in ipairs({ "abc", 200, 429.5, 600 }) do
                assert.has_error(function()
                    resty.enforce(e, { customer = "key-1", entitlement = "api", status = status })
                end, "limitr.resty: opts.status must be an HTTP status from 400 to 599")
            end
            assert.has_error(function() resty.enforce(e, { customer = "key-1", entitlement = "api", value = {} }) end,
                "limitr.resty: opts.value must be a number, a unit string or a function")
            assert.has_error(function() resty.enforce(e, { customer = "key-1", entitlement = "api", value = -1 }) end,
                "limitr.resty: opts.value must be a number >= 0")
            assert.has_error(function() resty.enforce(e, { customer = "key-1", entitlement = "api", value = "-1" }) end,
                "limitr.resty: opts.value must be a number >= 0")
        end)
        assert.equal(0, e:value("key-1", "api"))
    end)

    it("answers what an opts function returns that it cannot use: 400 for a negative value, else 500", function()
        local e = engine()
        local n = with_ngx({}, function(resty, n)
            assert.equal(400, resty.enforce(e, { customer = "key-1", entitlement = "api",
                                                 value = function() return -5 end }))
            assert.equal('{"error":"invalid_value"}', n.said[1])
            assert.equal(400, resty.enforce(e, { customer = "key-1", entitlement = "api",
                                                 value = function() return 0 / 0 end }))
            assert.equal(400, resty.enforce(e, { customer = "key-1", entitlement = "api",
                                                 value = function() return "-5" end }))
            assert.equal(500, resty.enforce(e, { customer = "key-1", entitlement = "api",
                                                 value = function() return nil end }))
            assert.equal(500, resty.enforce(e, { customer = "key-1", entitlement = "api",
                                                 event = function() return 5 end }))
        end)
        assert.equal(2, #n.logs)
        assert.matches("opts.value returned nil", n.logs[1])
        assert.matches("opts.event returned number", n.logs[2])
        assert.equal(0, e:value("key-1", "api"))
    end)

    it("allocates nothing on a pass once opts are cached", function()
        local e = assert(limitr.new((POLICY:gsub("value: 3, mode: hard", "value: 1e12, mode: hard"))))
        assert(e:create_customer("key-1"))
        local opts = { customer = { header = "X-Api-Key" }, entitlement = "api" }
        with_ngx({ http_x_api_key = "key-1" }, function(resty)
            local enforce = resty.enforce
            local function run(k) for _ = 1, k do enforce(e, opts) end end
            run(20000) -- warm: caches, and LuaJIT's traces of this loop
            collectgarbage("collect")
            collectgarbage("stop")
            local before = collectgarbage("count")
            run(10000)
            local grown = (collectgarbage("count") - before) * 1024
            collectgarbage("restart")
            assert.is_true(grown < 1024, ("%d bytes over 10000 passes"):format(grown))
        end)
    end)
end)

describe("e:decide", function()
    it("runs an on_exceed snippet once, as the allow does", function()
        local e = assert(limitr.new([[
policy:
  lua: "CALLS = 0"
  credits: {request: {}}
  plans:
    free:
      default: true
      entitlements:
        api:
          limit:
            credit: request
            value: 5
            mode: soft
            on_exceed: "function(ctx) CALLS = CALLS + 1; error('boom') end"
]]))
        assert(e:create_customer("k"))
        local errors = 0
        e:on("error", function() errors = errors + 1 end)
        assert.is_true(e:allow("k", "api", 4))
        -- fits: no snippet in the allow, none in the read of what remains
        local ok, reason, limit, remaining = e:decide("k", "api", 1)
        assert.same({ true, nil, 5, 0 }, { ok, reason, limit, remaining })
        assert.equal(0, errors)
        -- past the limit: the allow's snippet fails (one error), and the
        -- read does not run it again
        assert.is_true((e:decide("k", "api", 1)))
        assert.equal(1, errors)
    end)

    it("goes through the FFI under LuaJIT", function()
        if not jit then return end -- Lua 5.4: the C API only
        local e = engine()
        assert.equal(require("limitr.ffi").state().fast_decide, e.decide)
    end)

    it("answers like allow, with the limit, what remains, the reset and the wait", function()
        local e = engine()
        assert.same({ true, nil, 3, 2, 1060000, nil, 1000000 }, { e:decide("key-1", "api", 1) })
        assert.same({ true, nil, 3, 0, 1060000, nil, 1000000 }, { e:decide("key-1", "api", 2) })
        assert.same({ false, "limit", 3, 0, 1060000, 60000, 1000000 }, { e:decide("key-1", "api", 1) })
        assert.same({ true, nil, nil, nil, nil, nil, 1000000 }, { e:decide("key-1", "beta") })
        assert.same({ false, "unknown_customer", nil, nil, nil, nil, 1000000 },
            { e:decide("nobody", "api", 1) })
        assert.equal(3, e:value("key-1", "api"))
        local ok, err, code = e:decide("key-1", "quirky", 1)
        assert.is_false(ok)
        assert.equal("error", err)
        assert.is_nil(code)
    end)
end)
