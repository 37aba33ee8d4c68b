-- The snippet sandbox (docs/sandbox.md): every escape tried must fail with its
-- specific error, and a snippet that errors, loops or eats memory leaves
-- the engine working. Each case runs as a limit `value` snippet: its result
-- is the limit, and its failure an `error` event.
local limitr = require "limitr"

-- Runs `body` (the inside of function(customer) ... end) as a snippet.
-- Returns the number it returned (or nil) and the error message (or nil).
local function run(body, opts)
    local policy = ([[
policy:
  credits: {c: {}}
  plans:
    p:
      entitlements:
        e:
          limit:
            credit: c
            value: |
              function(customer)
%s
              end
]]):format(body:gsub("[^\n]+", function(l) return "                " .. l end))
    local e = assert(limitr.new(policy))
    local message
    e:on("error", function(ev) message = ev.message end)
    if opts and opts.lib then e:lib("App", "echo", function(...) return ... end) end
    e:create_customer("x", "p", { metadata = { quota = 7 } })
    local limit = e:limit("x", "e")
    -- the engine keeps working after a failure
    assert.is_not_nil(e:customer("x"))
    return limit, message
end

local function fails(body, pattern, opts)
    local limit, message = run(body, opts)
    assert.is_nil(limit)
    assert.is_string(message)
    assert.matches(pattern, message)
end

describe("sandbox: what a snippet cannot reach", function()
    it("has no io, os, package, require, debug, coroutine or print", function()
        for _, name in ipairs({ "io", "os", "package", "debug", "coroutine", "print",
                                "require", "dofile", "loadfile", "load", "loadstring",
                                "collectgarbage", "rawset", "module", "setfenv", "getfenv",
                                "newproxy", "_G" }) do
            local limit = run(("return %s == nil and 1 or 0"):format(name))
            assert.are.equal(1, limit, name .. " is reachable")
        end
    end)

    it("cannot call what it cannot see", function()
        fails("return io.open('/etc/passwd')", "attempt to index a nil value %(global 'io'%)")
        fails("return os.execute('true')", "attempt to index a nil value %(global 'os'%)")
        fails("return require('os')", "attempt to call a nil value %(global 'require'%)")
        fails("return load('return 1')()", "attempt to call a nil value %(global 'load'%)")
        fails("return dofile('/etc/passwd')", "attempt to call a nil value %(global 'dofile'%)")
        fails("return debug.getinfo(1)", "attempt to index a nil value %(global 'debug'%)")
        fails("return collectgarbage('count')", "attempt to call a nil value %(global 'collectgarbage'%)")
    end)

    it("has no string.dump, so no bytecode", function()
        assert.are.equal(1, (run("return string.dump == nil and 1 or 0")))
        fails("return string.dump(function() end)", "attempt to call a nil value %(field 'dump'%)")
        fails("return ('x').dump(function() end)", "attempt to call a nil value %(field 'dump'%)")
    end)

    it("cannot write globals or library tables", function()
        fails("x = 1 return 1", "attempt to modify a read%-only table %(key 'x'%)")
        fails("string.rep = nil return 1", "attempt to modify a read%-only table %(key 'rep'%)")
        fails("math.pi = 3 return 1", "attempt to modify a read%-only table %(key 'pi'%)")
        fails("limitr.now = nil return 1", "attempt to modify a read%-only table %(key 'now'%)")
        fails("QUOTA = 1 return 1", "read%-only")
    end)

    it("cannot unlock the environment or the string metatable", function()
        assert.are.equal(1, (run("return getmetatable('') == false and 1 or 0")))
        fails("setmetatable(_ENV, {}) return 1", "cannot change a protected metatable")
        fails("setmetatable(string, {}) return 1", "cannot change a protected metatable")
        fails("getmetatable('').__index = {} return 1", "attempt to index a boolean value")
        fails("rawset(_ENV, 'x', 1) return 1", "attempt to call a nil value %(global 'rawset'%)")
    end)

    it("reaches only the safe string table through string methods", function()
        assert.are.equal(3, (run("return #('ab'):rep(1) + ('x'):len()")))
        assert.are.equal(1, (run("return ('x').dump == nil and 1 or 0")))
    end)

    it("keeps the safe functions working", function()
        assert.are.equal(7, (run("return customer.metadata.quota")))
        assert.are.equal(6, (run("local t = {} for i = 1, 3 do t[#t + 1] = i end return t[1] + t[2] + t[3]")))
        assert.are.equal(5, (run("return math.max(1, 5) + select('#') ")))
        assert.are.equal(3, (run("local ok, v = pcall(function() return 3 end) return ok and v")))
        assert.are.equal(2, (run("local ok = pcall(error, 'x') return ok and 1 or 2")))
        assert.are.equal(4, (run("return utf8.len('héll') ")))
        assert.are.equal(8, (run("return tonumber(string.format('%d', 8))")))
        assert.are.equal(1, (run("return 7 // 4")))
        assert.are.equal(1, (run("return math.type(1) == 'integer' and 1 or 0")))
        assert.are.equal(11, (run("return limitr.now() >= 0 and 11")))
    end)
end)

describe("sandbox: budgets", function()
    -- Whichever of the two runs out first on a loaded machine, the
    -- instruction budget or the wall-clock deadline, the snippet is stopped.
    local STOPPED = "^snippet [a-z ]+ [a-z]+$"
    local function stopped(body)
        local limit, message = run(body)
        assert.is_nil(limit)
        assert.is_true(message == "snippet instruction budget exhausted"
            or message == "snippet deadline exceeded", message)
        assert.matches(STOPPED, message)
    end

    it("stops an infinite loop, and pcall cannot swallow it", function()
        fails("while true do end", "snippet instruction budget exhausted")
        stopped("while true do pcall(function() while true do end end) end")
        stopped("local function f() return pcall(f) end while true do f() end")
        stopped("while true do xpcall(function() while true do end end, function() return 1 end) end")
    end)

    it("stops a snippet that eats memory, and pcall cannot swallow it", function()
        fails("local s, t = ('x'):rep(100000), {} for i = 1, 1e8 do t[i] = s .. i end return 1",
            "snippet memory limit exceeded")
        fails("local s, t = ('x'):rep(100000), {} pcall(function() for i = 1, 1e8 do t[i] = s .. i end end) return 1",
            "snippet memory limit exceeded")
        fails("local ok = pcall(function() return ('x'):rep(1e5):rep(400) end) return 1",
            "snippet memory limit exceeded")
    end)

    it("bounds pattern matching work", function()
        fails("return string.find(('a'):rep(5000), ('a*'):rep(30) .. 'b') and 1 or 0",
            "pattern too complex")
    end)

    it("copies host values and refuses cyclic ones", function()
        assert.are.equal(3, (run("return App.echo(3)", { lib = true })))
        fails("local t = {} t.t = t return App.echo(t)", "nested too deeply", { lib = true })
        fails("return App.echo(print or function() end)", "only nil, booleans, numbers", { lib = true })
    end)
end)

describe("sandbox: one policy cannot touch another", function()
    it("keeps each engine's VM apart", function()
        local function policy(chunk)
            return ("policy:\n  lua: %q\n  credits: {c: {}}\n  plans: {p: {entitlements: {e: {limit: {credit: c, value: 'function() return SHARED or 0 end'}}}}}\n")
                :format(chunk)
        end
        local a = assert(limitr.new(policy("SHARED = 5")))
        local b = assert(limitr.new(policy("")))
        a:create_customer("x", "p")
        b:create_customer("x", "p")
        assert.are.equal(5, a:limit("x", "e"))
        assert.are.equal(0, b:limit("x", "e"))
    end)
end)

describe("sandbox: budgets are engine options", function()
    local POLICY = [[
policy:
  credits: {c: {}}
  plans: {p: {entitlements: {e: {limit: {credit: c, value: "function() local n = 0 for i = 1, 20000 do n = n + 1 end return n end"}}}}}
]]
    local function limit_of(opts)
        local e = assert(limitr.new(POLICY, "yaml", opts))
        local message
        e:on("error", function(ev) message = ev.message end)
        e:create_customer("x", "p")
        return e:limit("x", "e"), message
    end

    it("takes the instruction budget from limitr.new", function()
        assert.are.equal(20000, (limit_of(nil)))
        local limit, message = limit_of({ snippet_instructions = 10000 })
        assert.is_nil(limit)
        assert.are.equal("snippet instruction budget exhausted", message)
    end)

    it("refuses unknown or bad options", function()
        assert.has_error(function() limitr.new(POLICY, "yaml", { snippet_instructionz = 1 }) end,
            "unknown engine option 'snippet_instructionz' (options are snippet_instructions, snippet_milliseconds, snippet_memory, pattern_steps)")
        assert.has_error(function() limitr.new(POLICY, "yaml", { snippet_memory = -1 }) end,
            "engine option 'snippet_memory' must be a number > 0")
        assert.has_error(function() limitr.new(POLICY, "yaml", "fast") end)
    end)
end)
