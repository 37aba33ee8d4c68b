-- The command-line tool bin/limitr (docs/cli.md): its output and exit codes.
local H = require "helpers"

-- The tool is a Lua 5.4 script: it runs on Lua 5.4's module whichever host
-- runs this spec. Returns its output and exit code.
local function run(args)
    local root = H.root()
    local cmd = ("cd %q && LUA_PATH=%q LUA_CPATH=%q lua5.4 bin/limitr %s 2>&1; echo \"exit:$?\""):format(
        root, root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;", H.build() .. "/?.so;;", args)
    local pipe = assert(io.popen(cmd))
    local out = pipe:read("*a")
    pipe:close()
    local body, code = out:match("^(.*)exit:(%d+)\n$")
    return body, tonumber(code)
end

local function write(text)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    return path
end

local POLICY = [[
policy:
  credits: {req: {}}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: req, value: 100, resets: true, reset_inc: 1day}}
]]

describe("limitr validate", function()
    it("says ok with the counts and the fingerprint, exit 0", function()
        local path = write(POLICY)
        local out, code = run("validate " .. path)
        os.remove(path)
        assert.equals(0, code)
        assert.matches("^" .. path:gsub("%p", "%%%0") .. ": ok %(1 plans, 1 credits, sha256:%x+%)\n$", out)
    end)

    it("prints every problem and exits 1 for a bad policy", function()
        local path = write("policy:\n  plans: {x: {entitlements: {a: {limit: {credit: q}}}}}\n")
        local out, code = run("validate " .. path)
        os.remove(path)
        assert.equals(1, code)
        assert.equals("plans.x.entitlements.a.limit.credit: unknown credit 'q' at 2:50\n", out)
    end)

    it("exits 2 for a missing file or bad usage", function()
        local out, code = run("validate /nonexistent/policy.yaml")
        assert.equals(2, code)
        assert.matches("cannot open '/nonexistent/policy.yaml'", out)
        out, code = run("frobnicate")
        assert.equals(2, code)
        assert.matches("unknown command 'frobnicate'", out)
    end)
end)

describe("limitr explain", function()
    local limitr = require "limitr"
    local policy_path, state_path
    before_each(function()
        policy_path = write(POLICY)
        local e = assert(limitr.new(POLICY))
        e:set_time(1774872000000)
        assert(e:create_customer("f2"))
        assert(e:allow("f2", "api", 80))
        state_path = write(e:export())
    end)
    after_each(function()
        os.remove(policy_path)
        os.remove(state_path)
    end)

    it("explains an allowed call, exit 0", function()
        local out, code = run(("explain --state %s --policy %s f2 api 20"):format(state_path, policy_path))
        assert.equals(0, code)
        assert.equals("allowed: true\ngate: none\nlimit: 100\nvalue: 80\nremaining: 20\nreset: 1774958400000\n", out)
    end)

    it("explains a denial as JSON, exit 1, and follows --at", function()
        local out, code = run(("explain --json --state %s --policy %s f2 api 21"):format(state_path, policy_path))
        assert.equals(1, code)
        assert.equals('{"allowed":false,"gate":"limit","limit":100,"reason":"limit","remaining":20,'
            .. '"reset":1774958400000,"retry_after":86400000,"value":80}\n', out)
        out, code = run(("explain --at 2026-03-31T12:00:00Z --state %s --policy %s f2 api 21")
            :format(state_path, policy_path))
        assert.equals(0, code)
        assert.matches("value: 0\n", out)
    end)

    it("exits 2 for a bad state file or missing options", function()
        local bad = write('{"limitr_state":2}')
        local out, code = run(("explain --state %s --policy %s f2 api"):format(bad, policy_path))
        os.remove(bad)
        assert.equals(2, code)
        assert.matches("unsupported version 2", out)
        out, code = run(("explain --at 2026-13-45 --state %s --policy %s f2 api"):format(state_path, policy_path))
        assert.equals(2, code)
        assert.matches("%-%-at: expected ms or ISO%-8601 UTC, got '2026%-13%-45'", out)
        out, code = run("explain f2 api")
        assert.equals(2, code)
        assert.matches("needs %-%-state FILE and %-%-policy POLICY", out)
    end)
end)

describe("limitr explain --store", function()
    local limitr = require "limitr"
    local store, policy_path
    local function clean()
        for _, s in ipairs({ "", "-wal", "-shm", "-lock" }) do os.remove(store .. s) end
    end
    before_each(function()
        store = os.tmpname() .. ".db"
        policy_path = write((POLICY:gsub("value: 100,", "value: 150,")))
        local e = assert(limitr.open(POLICY, { store = store }))
        assert(e:create_customer("f2"))
        assert(e:allow("f2", "api", 80))
        assert(e:close())
    end)
    after_each(function()
        clean()
        os.remove(policy_path)
    end)

    it("explains on the state the store committed, under its own policy or --policy", function()
        local out, code = run(("explain --store %s f2 api 21"):format(store))
        assert.equals(1, code)
        assert.matches("allowed: false\ngate: limit\nreason: limit\nlimit: 100\nvalue: 80\n", out, 1, true)
        out, code = run(("explain --store %s --policy %s f2 api 21"):format(store, policy_path))
        assert.equals(0, code)
        assert.matches("allowed: true\ngate: none\nlimit: 150\nvalue: 80\n", out, 1, true)
        -- nothing was written: the store answers as before
        local e = assert(limitr.open(nil, { store = store }))
        assert.equals(80, e:value("f2", "api"))
        assert(e:close())
    end)

    it("exits 2 for a missing store or --state with --store", function()
        local out, code = run("explain --store /nonexistent/x.db f2 api")
        assert.equals(2, code)
        assert.matches("/nonexistent/x.db: no such store", out, 1, true)
        out, code = run(("explain --store %s --state %s f2 api"):format(store, store))
        assert.equals(2, code)
        assert.matches("not both", out, 1, true)
    end)
end)
