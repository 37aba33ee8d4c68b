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

    it("sees the string library only as `string` and string methods, not as globals", function()
        for _, name in ipairs({ "format", "upper", "char", "unpack", "rep", "gsub" }) do
            local limit = run(("return %s == nil and 1 or 0"):format(name))
            assert.are.equal(1, limit, name .. " is a global")
        end
        assert.are.equal(3, run("return #string.rep('x', 3) + #(''):upper()"))
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

    it("counts the time of host calls against the deadline", function()
        local policy = [[
policy:
  credits: {c: {}}
  plans:
    p:
      default: true
      entitlements:
        e: {limit: {credit: c, value: "function(customer) for i = 1, 10 do App.slow() end return 1 end"}}
]]
        local e = assert(limitr.new(policy))
        local message
        e:on("error", function(ev) message = ev.message end)
        e:lib("App", "slow", function()
            local t0 = os.clock()
            while os.clock() - t0 < 0.03 do end -- 30 ms of host work
        end)
        e:create_customer("x")
        local t0 = os.clock()
        assert.is_nil(e:limit("x", "e"))
        assert.are.equal("snippet deadline exceeded", message)
        assert.is_true(os.clock() - t0 < 0.2) -- 4 calls or so, not 10
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
        local ok, err = pcall(limitr.new, POLICY, "yaml", { snippet_instructionz = 1 })
        assert.is_false(ok)
        assert.matches("new: unknown option 'snippet_instructionz' %(options are snippet_instructions, "
            .. "snippet_milliseconds, snippet_memory, pattern_steps%)", err)
        ok, err = pcall(limitr.new, POLICY, "yaml", { snippet_memory = -1 })
        assert.is_false(ok)
        assert.matches("new: option 'snippet_memory' must be a whole number from 1 to 1e%+15", err)
        assert.has_error(function() limitr.new(POLICY, "yaml", "fast") end)
    end)
end)

-- A policy whose limit `e` has the given value snippet (the inside of
-- function(customer) ... end) and, optionally, a `lua` chunk and an
-- on_exceed snippet; the engine, with its error messages collected.
local function engine_with(parts)
    local function indent(s, n)
        return (s:gsub("[^\n]+", function(l) return string.rep(" ", n) .. l end))
    end
    local text = "policy:\n"
    if parts.lua then text = text .. "  lua: |\n" .. indent(parts.lua, 4) .. "\n" end
    text = text .. [[
  credits: {c: {}}
  plans:
    p:
      entitlements:
        e:
          limit:
            credit: c
            mode: soft
]]
    if parts.value then
        text = text .. "            value: |\n              function(customer)\n" ..
            indent(parts.value, 16) .. "\n              end\n"
    else
        text = text .. "            value: 10\n"
    end
    if parts.on_exceed then
        text = text .. "            on_exceed: |\n" .. indent(parts.on_exceed, 14) .. "\n"
    end
    local e, err = limitr.new(text)
    if not e then return nil, err end
    local messages = {}
    e:on("error", function(ev) messages[#messages + 1] = ev.message end)
    e:create_customer("x", "p")
    return e, messages
end

-- Runs f and returns its results and the seconds it took (os.clock: CPU).
local function timed(f)
    local t0 = os.clock()
    local r = table.pack(f())
    return os.clock() - t0, table.unpack(r, 1, r.n)
end

describe("sandbox: finalizers never run snippet code", function()
    it("refuses a metatable with __gc, naming the snippet", function()
        -- The case that used to hang: a finalizer that loops, then garbage.
        local e, messages = assert(engine_with({ on_exceed = [[
function(ctx) setmetatable({}, {__gc = function() while true do end end})
  local t = {} for i = 1, 2e5 do t[i % 100] = {} end return false end]] }))
        local took, ok = timed(function() return e:allow("x", "e", 11) end)
        assert.is_true(ok) -- the failed on_exceed leaves soft mode's answer
        assert.is_true(took < 1, took)
        assert.are.equal(1, #messages)
        assert.matches("plans%.p%.entitlements%.e%.limit%.on_exceed:1: setmetatable: a metatable with __gc is not allowed",
            messages[1])
        assert.is_true(timed(function() e:close() end) < 1)
    end)

    it("refuses it in the lua chunk too", function()
        local e, err = engine_with({ lua = "X = setmetatable({}, {__gc = function() while true do end end})" })
        assert.is_nil(e)
        assert.matches("lua: Lua error while running the chunk: lua:1: setmetatable: a metatable with __gc is not allowed", err)
    end)

    it("never finalizes a table whose metatable gains __gc later", function()
        local e = assert(engine_with({ value = [[
local mt = {}
local t = setmetatable({}, mt)
mt.__gc = function() while true do end end
for i = 1, 5e4 do local x = {} end -- some collections (within the deadline under ASan and load)
return 1]] }))
        local took, limit = timed(function() return e:limit("x", "e") end)
        assert.are.equal(1, limit)
        assert.is_true(took < 1, took)
        assert.is_true(timed(function() e:close() end) < 1)
    end)

    it("stops a looping __close, when it runs and when a kill unwinds through it", function()
        for _, body in ipairs({
            "local x <close> = setmetatable({}, {__close = function() while true do end end}) return 1",
            "local x <close> = setmetatable({}, {__close = function() while true do end end}) while true do end",
            "return select(2, xpcall(function() error('x') end, function() while true do end end))",
        }) do
            local e, messages = assert(engine_with({ value = body }))
            local took, limit = timed(function() return e:limit("x", "e") end)
            assert.is_nil(limit, body)
            assert.is_true(took < 1, body)
            assert.matches("snippet [a-z ]+", messages[1], 1, body)
        end
    end)
end)

describe("sandbox: library functions that loop in C are charged", function()
    for _, body in ipairs({
        "return #string.rep('', math.maxinteger)",
        "return #string.rep('', 1e9)",
        "return #('x'):rep(2, ('y'):rep(1e4)):rep(1e5)",
        "return #table.move({}, 1, math.maxinteger - 1, 2)",
        "return #table.concat({}, '', 1, 1e9)",
        "return select('#', table.unpack({}, 1, 1e8))",
        "local s = ('x'):rep(3e7) return utf8.len(s)",
        "local t = {} for i = 1, 1000 do t[i] = i end for i = 1, 2000 do table.insert(t, 1, i) end return #t",
    }) do
        it(body, function()
            local e, messages = assert(engine_with({ value = body }))
            local took, limit = timed(function() return e:limit("x", "e") end)
            assert.is_nil(limit)
            assert.is_true(took < 0.5, took)
            assert.matches("snippet instruction budget exhausted", messages[1])
        end)
    end

    it("bounds the lua chunk as well", function()
        local took, e, err = timed(function()
            return engine_with({ lua = "X = string.rep('', math.maxinteger)" })
        end)
        assert.is_nil(e)
        assert.is_true(took < 0.5, took)
        assert.matches("lua: Lua error while running the chunk: snippet instruction budget exhausted", err)
    end)

    it("still lets ordinary work through", function()
        local e = assert(engine_with({ value = [[
local t = {}
for i = 1, 100 do t[i] = i end
table.sort(t, function(a, b) return a > b end)
table.insert(t, 1, 0)
table.remove(t)
return #table.concat(t, ",") + #('ab'):rep(10) + select('#', table.unpack(t)) + utf8.len('héllo')]] }))
        assert.is_number(e:limit("x", "e"))
    end)
end)

describe("sandbox: what the lua chunk set up stays as it was", function()
    local LUA = [[
QUOTA = {pro = {seats = 5}, list = {1, 2, 3}}
COUNT = {n = 0}
local hits = 0
function bump() COUNT.n = COUNT.n + 1 return COUNT.n end
function tick() hits = hits + 1 return hits end
function seats(plan) return QUOTA[plan].seats end]]

    it("refuses writes to nested tables, from snippets and from chunk functions", function()
        local e, messages = assert(engine_with({ lua = LUA, value = "QUOTA.pro.seats = 1e9 return 1" }))
        assert.is_nil(e:limit("x", "e"))
        assert.matches("attempt to modify a read%-only table %(key 'seats'%)", messages[1])
        e, messages = assert(engine_with({ lua = LUA, value = "return bump()" }))
        assert.is_nil(e:limit("x", "e"))
        assert.matches("attempt to modify a read%-only table %(key 'n'%)", messages[1])
        e, messages = assert(engine_with({ lua = LUA, value = "QUOTA.new = 1 return 1" }))
        assert.is_nil(e:limit("x", "e"))
        assert.matches("read%-only table %(key 'new'%)", messages[1])
    end)

    it("undoes a call's changes to a function's variables", function()
        local e = assert(engine_with({ lua = LUA, value = "return tick() + tick()" }))
        assert.are.equal(3, e:limit("x", "e"))
        assert.are.equal(3, e:limit("x", "e")) -- not 7: hits is 0 again
        e = assert(engine_with({ value = "return (function() local n = 0 return function(c) n = n + 1 return n end end)()(customer)" }))
        assert.are.equal(1, e:limit("x", "e"))
        e = assert(engine_with({ value = "local v = math.max(1, 2) _ENV = nil return v" }))
        assert.are.equal(2, e:limit("x", "e"))
        assert.are.equal(2, e:limit("x", "e")) -- _ENV is back
    end)

    it("puts back a variable that was nil, and the ones after it", function()
        -- a nil among the kept values once shifted every cell after it
        local e = assert(engine_with({ lua = [[
local a = 1
local calls
local b = 10
local c
local d = 100
function first_call()
  local seen = calls
  calls, c = 1, 2
  a, b, d = a + 1, b + 1, d + 1
  return (seen == nil and 1 or 1000) + a + b + d
end]], value = "return first_call()" }))
        for _ = 1, 3 do assert.are.equal(1 + 2 + 11 + 101, e:limit("x", "e")) end
    end)

    it("keeps reads of the chunk's tables working", function()
        local e = assert(engine_with({ lua = LUA, value = [[
local n = 0
for k, v in pairs(QUOTA.pro) do n = n + v end
for i, v in ipairs(QUOTA.list) do n = n + v end
return n + #QUOTA.list + seats("pro") + table.concat(QUOTA.list):len()]] }))
        assert.are.equal(5 + 6 + 3 + 5 + 3, e:limit("x", "e"))
    end)
end)

describe("sandbox: value snippets that read each other", function()
    local function engine(ents)
        local lines = {}
        for name, body in pairs(ents) do
            lines[#lines + 1] = ("        %s: {limit: {credit: c, value: \"function(c) %s end\"}}"):format(name, body)
        end
        table.sort(lines)
        local e = assert(limitr.new("policy:\n  credits: {c: {}}\n  plans:\n    p:\n      default: true\n" ..
            "      entitlements:\n" .. table.concat(lines, "\n") .. "\n"))
        local errors = {}
        e:on("error", function(ev) errors[#errors + 1] = ev.message end)
        e:create_customer("x")
        return e, errors
    end

    it("fail the call once, with one error event, when they read each other in a cycle", function()
        local e, errors = engine({
            a = "return (limitr.value('b') or 0) + 10",
            b = "return (limitr.value('a') or 0) + 20" })
        assert.are.same({ false, "error" }, { e:allow("x", "a", 1) })
        assert.are.equal(1, #errors)
        assert.matches("reads its own limit", errors[1])
        assert.is_nil(e:limit("x", "b"))
        assert.are.equal(2, #errors)
    end)

    it("nest 8 deep at most, each read running the snippet it reads once", function()
        local ents, runs = {}, 0
        for i = 1, 9 do
            ents["e" .. i] = i < 9 and ("App.run() return (limitr.meter('e%d').limit or 0) + 1"):format(i + 1)
                or "App.run() return 7"
        end
        local e, errors = engine(ents)
        e:lib("App", "run", function() runs = runs + 1 end)
        assert.are.equal(14, e:limit("x", "e2")) -- e2 .. e9: 8 deep
        assert.are.equal(8, runs)
        assert.are.equal(0, #errors)
        runs = 0
        assert.is_nil(e:limit("x", "e1")) -- 9 deep
        assert.are.equal(1, #errors)
        assert.is_true(runs <= 9, runs)
    end)
end)

describe("sandbox: a value snippet reading its own limit", function()
    it("fails once, with a clear error", function()
        local e, messages = assert(engine_with({ value = "return (limitr.value('e') or 0) + 1" }))
        local took, limit = timed(function() return e:limit("x", "e") end)
        assert.is_nil(limit)
        assert.is_true(took < 0.5, took)
        assert.are.equal(1, #messages)
        assert.matches("a limit value snippet reads its own limit", messages[1])
        messages[1] = nil
        local ok, reason = e:allow("x", "e", 1)
        assert.is_false(ok)
        assert.are.equal("error", reason)
        assert.are.equal(1, #messages)
    end)
end)

describe("snippet contexts built only when read", function()
    it("gives on_exceed the numbers at once and the snapshots when read", function()
        local e = assert(engine_with({ on_exceed = [[
function(ctx)
  local n = 0
  for k in pairs(ctx) do n = n + 1 end -- pairs builds what it has not yet
  local ok = ctx.customer.id == "x" and ctx.caller.plan == "p" and ctx.value == 0
    and ctx.requested == 11 and ctx.limit == 10 and ctx.overage == 1 and ctx.mode == "soft"
    and ctx.customer.meters.e.value == 0 and n == 9 and ctx.nothing == nil
  return not ok, "seen"
end]] }))
        assert.are.same({ false, "seen" }, { e:allow("x", "e", 11) })
    end)

    it("gives a value snippet its customer whole on first read", function()
        local e = assert(engine_with({ value = "local n = 0 for k in pairs(customer) do n = n + 1 end return n > 5 and customer.id == 'x' and 3 or 0" }))
        assert.are.equal(3, e:limit("x", "e")) -- pairs fills it too
        e = assert(engine_with({ value = "local id = customer.id local n = 0 for k in pairs(customer) do n = n + 1 end return n > 5 and id == 'x' and 3 or 0" }))
        assert.are.equal(3, e:limit("x", "e"))
    end)
end)
