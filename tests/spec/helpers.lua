-- helpers.lua: what the busted specs share: engine setup, event recorders,
-- one-limit policies, the nil, err, code shape, child processes.
-- require "helpers": tests/spec is on LUA_PATH under ctest (LIMITR_LUA_ENV
-- in CMakeLists.txt) and on busted's lpath (.busted).
local limitr = require "limitr"

local H = {}

--- A new engine of the policy text (which must load; format detected), its
-- clock set to `time` when given, then the customers given as id, plan
-- pairs: H.engine(POLICY, 0, "c", "p").
function H.engine(policy, time, ...)
    local e = assert(limitr.new(policy))
    if time then e:set_time(time) end
    local customers = { ... }
    for i = 1, #customers, 2 do
        assert(e:create_customer(customers[i], customers[i + 1]))
    end
    return e
end

--- The payload ev with its customer snapshot read: a meter event's
-- `customer` is built on first read, and only while the event is delivered
-- (docs/engine.md 10.1), so a subscriber that keeps a payload for later reads
-- it first.
function H.keep(ev)
    if type(ev.customer) == "table" then local _ = ev.customer.meters end
    return ev
end

--- Records the events of e as {name = ..., ev = payload}, in order; with
-- `only`, the events whose name matches that pattern.
function H.recorder(e, only)
    local seen = {}
    e:on("*", function(ev, name)
        if not only or name:match(only) then seen[#seen + 1] = { name = name, ev = H.keep(ev) } end
    end)
    return seen
end

--- The event names of a recorder's list.
function H.names(seen)
    local out = {}
    for i, s in ipairs(seen) do out[i] = s.name end
    return out
end

--- The payloads of the `error` events of e (failed snippets, callbacks).
function H.errors(e)
    local errors = {}
    e:on("error", function(ev) errors[#errors + 1] = ev end)
    return errors
end

--- Asserts the failure shape nil, err, code of a call's results, with the
-- given code, and returns err (a non-empty message for people).
function H.fails(code, ...)
    local n, ok, err, got = select("#", ...), ...
    assert(n == 3, ("expected nil, err, code (3 values), got %d values: %s, %s, %s")
        :format(n, tostring(ok), tostring(err), tostring(got)))
    assert(ok == nil, "expected nil, got " .. tostring(ok))
    assert(type(err) == "string" and err ~= "", "expected a message, got " .. tostring(err))
    assert(got == code, ("expected the code %q, got %q (%s)"):format(code, tostring(got), err))
    return err
end

--- A policy of one default plan `p` on the credit `t`: `entitlements` is
-- the YAML of its entitlements and `rest` (optional) more top-level
-- sections (`lua`, `handlers`, ...), both written without indentation.
function H.plan_policy(entitlements, rest)
    local function indent(text, by)
        return (text:gsub("[^\n]+", function(l) return by .. l end))
    end
    return "policy:\n  credits: {t: {}}\n  plans:\n    p:\n      default: true\n" ..
        "      entitlements:\n" .. indent(entitlements, "        ") ..
        (rest and ("\n" .. indent(rest, "  ")) or "") .. "\n"
end

--- A policy with one entitlement `e` whose limit is the YAML flow text
-- `limit`, on the credits `credits` (default {t: {}}). The limit is on line
-- 7, after "          limit: ", for the "at 7:<col>" of load errors.
function H.limit_policy(limit, credits)
    return "policy:\n  credits: " .. (credits or "{t: {}}") ..
        "\n  plans:\n    p:\n      entitlements:\n" ..
        "        e:\n          limit: " .. limit .. "\n"
end

--- limitr.new of H.limit_policy: the engine, or nil, err, code.
function H.load_limit(limit, credits)
    return limitr.new(H.limit_policy(limit, credits))
end

--- The paths of the source and build trees (ctest sets both).
function H.root()
    return os.getenv("LIMITR_SOURCE_DIR") or "."
end

function H.build()
    return os.getenv("LIMITR_BUILD_DIR") or (H.root() .. "/build")
end

--- Runs a Lua 5.4 example script of the repository (a path under the
-- root) and returns everything it printed; fails unless it exits with 0.
function H.run_example(script)
    local cmd = ("cd %q && LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH=%q lua5.4 %s 2>&1")
        :format(H.root(), H.build() .. "/?.so;;", script)
    local pipe = assert(io.popen(cmd))
    local out = pipe:read("a")
    local ok = pipe:close()
    assert(ok, out)
    return out
end

--- Runs `code` (after `local limitr = require "limitr"`) in a child process
-- of this host (lua5.4 or luajit, with this process's package paths): a
-- crash there fails the test, not the spec file. Returns ok, output.
function H.child(code)
    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "w"))
    f:write('local limitr = require "limitr"\n', code)
    f:close()
    local lua = jit and "luajit" or "lua5.4"
    local cmd = ("LUA_PATH=%q LUA_CPATH=%q %s %q 2>&1"):format(package.path, package.cpath, lua, tmp)
    local pipe = assert(io.popen(cmd))
    local out = pipe:read("a")
    local ok = pipe:close()
    os.remove(tmp)
    return ok, out
end

--- All results of a call, with their count (nil holes included).
function H.pack(...)
    return { n = select("#", ...), ... }
end

return H
