-- The durable store (docs/store.md): limitr.open on a SQLite file,
-- restore, a changed policy on reopen, one writer, read-only engines, the
-- file checks, the decision log, checkpoint and close, batch durability and
-- the options. The files are looked at with the sqlite3 CLI.
local limitr = require "limitr"
local H = require "helpers"

local unpack = table.unpack or unpack

local function policy(limit)
    return ([[
policy:
  credits: {request: {}}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: request, value: %d, mode: hard}}
]]):format(limit)
end
local P = policy(5)
local T = 1774872000000 -- 2026-03-30T12:00Z

-- ---- files ----

local SIDE = { "", "-wal", "-shm", "-lock", "-journal" }
local made = {} -- every path handed out, removed after each test

--- A path where no file is yet (under an os.tmpname() name; that empty
-- file is removed with the rest).
local function tmp(ext)
    local base = os.tmpname()
    made[#made + 1] = base
    local path = base .. (ext or ".db")
    made[#made + 1] = path
    return path
end

local function cleanup()
    for _, p in ipairs(made) do
        for _, s in ipairs(SIDE) do os.remove(p .. s) end
    end
    made = {}
end

local function read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return s
end

local function write(path, bytes)
    local f = assert(io.open(path, "wb"))
    f:write(bytes)
    f:close()
end

local function exists(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
end

local function shell_quote(s)
    return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- Runs the sqlite3 CLI on `path` with the SQL `sql`; returns its rows, each
-- a list of column texts (NULL as "NULL"), columns split at "|".
local function sql(path, query)
    local cmd = ("sqlite3 -batch -noheader -nullvalue NULL -separator '|' %s %s 2>&1")
        :format(shell_quote(path), shell_quote(query))
    local pipe = assert(io.popen(cmd))
    local out = pipe:read("a")
    pipe:close()
    assert(not out:find("^Error") and not out:find("\nError") and not out:find("^Parse error"),
        "sqlite3: " .. out)
    local rows = {}
    for line in out:gmatch("[^\n]+") do
        local row = {}
        for col in (line .. "|"):gmatch("(.-)|") do row[#row + 1] = col end
        rows[#rows + 1] = row
    end
    return rows
end

--- The single value of a one-row, one-column query.
local function sql1(path, query)
    local rows = sql(path, query)
    assert(#rows == 1, ("expected one row of %q, got %d"):format(query, #rows))
    return rows[1][1]
end

--- This process's pid (the first field of /proc/self/stat).
local function my_pid()
    local f = assert(io.open("/proc/self/stat", "r"))
    local line = f:read("l")
    f:close()
    return assert(tonumber(line:match("^(%d+)")))
end

--- limitr.open with a store: the engine and info, or fails the test.
local function open(pol, path, opts)
    local o = { store = path }
    for k, v in pairs(opts or {}) do o[k] = v end
    local e, info, code = limitr.open(pol, o)
    assert(e, ("open %s: %s (%s)"):format(path, tostring(info), tostring(code)))
    return e, info
end

--- The failure of limitr.open: asserts nil, err, code and returns err.
local function refused(pol, opts)
    local r = H.pack(limitr.open(pol, opts))
    assert(r[1] == nil, "expected open to fail, it returned " .. tostring(r[1]))
    assert(r.n == 3, ("expected nil, err, code, got %d values"):format(r.n))
    assert(type(r[2]) == "string" and r[2] ~= "", "expected a message")
    assert(type(r[3]) == "string" and r[3] ~= "", "expected a code")
    return r[2], r[3]
end

--- A closed store with customer u at `used` on api (policy P).
local function store_with(path, used)
    local e = open(P, path)
    assert(e:create_customer("u", "free"))
    if used > 0 then assert.is_true(e:allow("u", "api", used)) end
    assert.is_true(e:close())
    return path
end

--- e:export(id) without its top-level `now` (engine time, not state).
local function doc(e, id)
    return (assert(e:export(id)):gsub('"now":%d+,', ""))
end

describe("the durable store (docs/store.md)", function()
    after_each(cleanup)

    describe("restore", function()
        it("creates a store, keeps usage, grants and caps across reopening", function()
            local path = tmp()
            local e, info = open(P, path)
            assert.is_true(info.created)
            assert.equals(0, info.customers)
            assert.is_false(info.policy_changed)
            assert.same({}, info.warnings)
            e:set_time(T)
            assert(e:create_customer("u", "free"))
            assert(e:create_customer("w", "free"))
            assert.is_true(e:allow("u", "api", 3))
            assert.same({ false, "limit" }, { e:allow("u", "api", 3) })
            assert.is_true(e:allow("w", "api", 1))
            assert(e:add_customer_grant("u", { credit = "request", value = 4 }))
            assert(e:add_customer_cap("u", 100, { id = "budget" }))
            assert.equals(9, e:limit("u", "api"))
            local u_doc, w_doc = doc(e, "u"), doc(e, "w")
            assert.is_true(e:close())

            -- the same policy
            local e2, info2 = open(P, path)
            assert.is_false(info2.created)
            assert.equals(2, info2.customers)
            assert.is_false(info2.policy_changed)
            assert.same({}, info2.warnings)
            assert.equals(3, e2:value("u", "api"))
            assert.equals(1, e2:value("w", "api"))
            assert.equals(9, e2:limit("u", "api"))
            assert.equals(1, #e2:customer("u").grants)
            assert.equals(4, e2:customer("u").grants[1].value)
            assert.equals(100, e2:customer_cap("u", "budget").value)
            assert.equals(u_doc, doc(e2, "u"))
            assert.equals(w_doc, doc(e2, "w"))
            assert.is_true(e2:allow("u", "api", 4)) -- 2 of the grant's 4 drawn
            assert.same({ false, "limit" }, { e2:allow("u", "api", 3) })
            assert.equals(2, e2:customer("u").grants[1].value)
            u_doc = doc(e2, "u")
            assert.is_true(e2:close())

            -- the store's own policy
            local e3, info3 = open(nil, path)
            assert.is_false(info3.created)
            assert.equals(2, info3.customers)
            assert.is_false(info3.policy_changed)
            assert.same({}, info3.warnings)
            assert.equals(7, e3:value("u", "api"))
            assert.equals(1, e3:value("w", "api"))
            assert.equals(2, e3:customer("u").grants[1].value)
            assert.equals(100, e3:customer_cap("u", "budget").value)
            assert.equals(u_doc, doc(e3, "u"))
            assert.equals(w_doc, doc(e3, "w"))
            assert.is_true(e3:allow("u", "api", 2))
            assert.same({ false, "limit" }, { e3:allow("u", "api", 1) })
            assert.is_true(e3:close())
        end)

        it("creates a store on a 0-byte file", function()
            local path = tmp()
            write(path, "")
            local e, info = open(P, path)
            assert.is_true(info.created)
            assert(e:create_customer("u", "free"))
            assert.is_true(e:close())
            assert.equals("1", sql1(path, "select count(*) from customers"))
        end)

        it("applies a changed policy as a logged reload and keeps usage", function()
            local path = store_with(tmp(), 5)
            local e, info = open(policy(8), path)
            assert.is_false(info.created)
            assert.is_true(info.policy_changed)
            assert.equals(1, info.customers)
            assert.same({}, info.warnings)
            assert.equals(5, e:value("u", "api"))
            assert.equals(8, e:limit("u", "api"))
            assert.is_true(e:allow("u", "api", 3))
            assert.same({ false, "limit" }, { e:allow("u", "api", 1) })
            local fp = e:fingerprint()
            local ops = sql(path, "select op from log order by seq")
            local reloads = 0
            for _, r in ipairs(ops) do
                if r[1] == "reload" then reloads = reloads + 1 end
            end
            assert.equals(1, reloads)
            -- the calls after it run under the new policy
            assert.same({ { "allow", fp }, { "allow", fp } },
                sql(path, "select op, policy from log where seq > (select max(seq) from log "
                    .. "where op = 'reload') order by seq"))
            assert.equals(fp, sql1(path, "select value from meta where key = 'policy'"))
            assert.equals("1", sql1(path, "select count(*) from policies where fingerprint = '"
                .. fp .. "'"))
            assert.is_true(e:close())

            -- the new policy is now the store's
            local e2, info2 = open(nil, path)
            assert.is_false(info2.policy_changed)
            assert.equals(fp, e2:fingerprint())
            assert.equals(8, e2:value("u", "api"))
            assert.equals(8, e2:limit("u", "api"))
            assert.is_true(e2:close())
        end)
    end)

    describe("one writer", function()
        it("refuses a second writer in this process, naming its pid, until the first closes", function()
            local path = store_with(tmp(), 2)
            local a = open(nil, path)
            local msg = ("%s: open for writing by another engine (pid %d)"):format(path, my_pid())
            local err, code = refused(P, { store = path })
            assert.equals(msg, err)
            assert.equals("store_error", code)
            assert.equals(msg, (refused(nil, { store = path })))
            -- the first is unharmed
            assert.is_true(a:allow("u", "api", 1))
            assert.equals(3, a:value("u", "api"))
            assert.is_true(a:close())
            local b = open(nil, path)
            assert.equals(3, b:value("u", "api"))
            assert.is_true(b:close())
        end)

        it("refuses a writer in another process", function()
            local path = store_with(tmp(), 1)
            local a = open(nil, path)
            local ok, out = H.child(([[
local e, err = limitr.open(nil, {store = %q})
print(e and "opened" or err)
]]):format(path))
            assert(ok, out)
            assert.equals(("%s: open for writing by another engine (pid %d)\n"):format(path, my_pid()), out)
            assert.is_true(a:close())
        end)
    end)

    describe("read-only", function()
        it("sees the state committed at open and refuses mutations", function()
            local path = store_with(tmp(), 2)
            local w = open(nil, path) -- a writer is open: read-only takes no lock
            assert.is_true(w:allow("u", "api", 1))
            local ro, info = open(nil, path, { readonly = true })
            assert.is_false(info.created)
            assert.equals(1, info.customers)
            assert.equals(3, ro:value("u", "api"))
            assert.is_true(w:allow("u", "api", 1)) -- after the reader opened
            assert.equals(3, ro:value("u", "api"))
            H.fails("read_only", ro:allow("u", "api", 1))
            H.fails("read_only", ro:create_customer("v", "free"))
            H.fails("read_only", ro:reload(policy(9)))
            assert.equals(3, ro:value("u", "api"))
            H.fails("unknown_customer", ro:value("v", "api"))
            assert.is_true(ro:close())
            assert.is_true(w:close())
            local e = open(nil, path)
            assert.equals(4, e:value("u", "api"))
            assert.is_true(e:close())
        end)

        it("refuses a missing path, and a new store without a policy", function()
            local path = tmp()
            assert.equals(path .. ": no such store", (refused(nil, { store = path, readonly = true })))
            assert.equals(path .. ": no such store", (refused(P, { store = path, readonly = true })))
            assert.is_false(exists(path))
            assert.equals(path .. ": a new store needs a policy", (refused(nil, { store = path })))
            assert.is_false(exists(path))
        end)
    end)

    describe("file checks", function()
        --- Opens path (with P, then with the store's policy, then read-only)
        -- and expects the message each time, the file's bytes unchanged and no
        -- -wal or -shm made.
        local function check_refused(path, message, prefix)
            local before = assert(read(path))
            assert.is_false(exists(path .. "-wal"))
            for _, args in ipairs({ { P, {} }, { nil, {} }, { nil, { readonly = true } } }) do
                local opts = { store = path }
                for k, v in pairs(args[2]) do opts[k] = v end
                local err = refused(args[1], opts)
                if prefix then
                    assert.equals(path .. ": " .. message, err:sub(1, #path + 2 + #message))
                else
                    assert.equals(path .. ": " .. message, err)
                end
                assert(read(path) == before, "the file changed")
                assert.is_false(exists(path .. "-wal"))
                assert.is_false(exists(path .. "-shm"))
            end
        end

        it("refuses a text file", function()
            local path = tmp(".txt")
            write(path, "policy: this is a text file, not a database\n")
            check_refused(path, "not a SQLite database")
        end)

        it("refuses a 50-byte file", function()
            local path = tmp()
            local bytes = {}
            for i = 1, 50 do bytes[i] = string.char((i * 37) % 256) end
            write(path, table.concat(bytes))
            check_refused(path, "not a SQLite database")
        end)

        it("refuses another application's SQLite database", function()
            local path = tmp()
            sql(path, "create table t(x); insert into t values (1); pragma application_id = 42;")
            check_refused(path, "not a limitr store (application_id 42)")
            local plain = tmp()
            sql(plain, "create table t(x);")
            check_refused(plain, "not a limitr store (application_id 0)")
        end)

        it("refuses a newer store format", function()
            local path = store_with(tmp(), 1)
            sql(path, "pragma user_version = 2;")
            assert.equals("2", sql1(path, "pragma user_version"))
            check_refused(path, "store format 2 is newer than this limitr")
        end)

        it("refuses a truncated store", function()
            local path = store_with(tmp(), 1)
            local bytes = assert(read(path))
            assert.is_false(exists(path .. "-wal"))
            write(path, bytes:sub(1, math.floor(#bytes / 2)))
            check_refused(path, "store is corrupt", true)
        end)

        it("refuses a store whose customer document is garbage", function()
            local path = store_with(tmp(), 1)
            sql(path, [[update customers set doc = '{"x":1}';]])
            check_refused(path, "store is corrupt: stored state: ", true)
        end)
    end)

    describe("the decision log", function()
        local COLS = "op, customer, entitlement, value, result, reason, plan, gate, ts"

        it("writes a row per allow, allowed or denied, and per create_customer", function()
            local path = tmp()
            local e = open(P, path)
            e:set_time(T)
            assert(e:create_customer("u", "free"))
            assert.is_true(e:allow("u", "api", 3))
            assert.same({ false, "limit" }, { e:allow("u", "api", 3) })
            assert.is_true(e:allow("u", "api", 2))
            assert.same({ false, "limit" }, { e:increment("u", "api") })
            local rows = sql(path, "select " .. COLS .. " from log order by seq")
            assert.equals(5, #rows)
            local t = tostring(T)
            assert.same({ "create_customer", "u", "NULL" }, { rows[1][1], rows[1][2], rows[1][3] })
            assert.equals(t, rows[1][9])
            local function decision(r, value, result, reason, gate)
                assert.same({ "allow", "u", "api" }, { r[1], r[2], r[3] })
                assert.equals(value, tonumber(r[4]))
                assert.same({ result, reason, "free", gate, t }, { r[5], r[6], r[7], r[8], r[9] })
            end
            decision(rows[2], 3, "allowed", "NULL", "none")
            decision(rows[3], 3, "denied", "limit", "limit")
            decision(rows[4], 2, "allowed", "NULL", "none")
            -- increment: value NULL (as given: none)
            assert.same({ "increment", "u", "api", "NULL", "denied", "limit", "free", "limit" },
                { unpack(rows[5], 1, 8) })
            assert.is_true(e:close())
        end)

        it("logs a commit's money: overage, its price and the price of the change", function()
            local path = tmp()
            local e = open([[
policy:
  credits:
    token: {price: {amount: 0.5}}
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 2, mode: soft}}
]], path)
            e:set_time(T)
            assert(e:create_customer("u"))
            assert.is_true(e:allow("u", "chat", 1)) -- inside the limit
            assert.is_true(e:allow("u", "chat", 3)) -- 2 past it
            assert.same({ { "0", "NULL", "NULL" }, { "2", "1", "1" } },
                sql(path, "select overage, overage_price, price_diff from log "
                    .. "where op = 'allow' order by seq"))
            assert.is_true(e:close())
        end)

        it("logs each row's own customer and entitlement, alike or not", function()
            local path = tmp()
            local e = open(P, path)
            e:set_time(T)
            assert(e:create_customer("ab", "free"))
            assert(e:create_customer("ba", "free"))
            for _, id in ipairs({ "ab", "ab", "ba", "ab", "ba", "ba" }) do
                e:allow(id, "api", 1)
            end
            e:allow("ab", "nope", 1)
            assert.same({ { "ab", "api" }, { "ab", "api" }, { "ba", "api" }, { "ab", "api" },
                    { "ba", "api" }, { "ba", "api" }, { "ab", "nope" } },
                sql(path, "select customer, entitlement from log where op = 'allow' order by seq"))
            assert.is_true(e:close())
        end)

        it("logs reserve and settle as one row each, with the hold id", function()
            local path = tmp()
            local e = open(P, path)
            e:set_time(T)
            assert(e:create_customer("u", "free"))
            local h = assert(e:reserve("u", "api", 2))
            assert.is_true(e:settle("u", "api", h, 1))
            local rows = sql(path, "select op, customer, entitlement, value from log order by seq")
            assert.same({ { "create_customer", "u", "NULL", "NULL" }, { "reserve", "u", "api", "2.0" },
                { "settle", "u", "api", "1.0" } }, rows)
            assert.equals("h" .. h, sql1(path, "select detail from log where op = 'reserve'"))
            local settle = sql(path, "select opts, detail from log where op = 'settle'")[1]
            assert.equals("h" .. h, settle[1]) -- the hold, as the log writes every hold
            assert.is_true(e:close())
        end)

        it("logs a reservation as a decision: the caller's plan, denied by the limit", function()
            local path = tmp()
            local e = open(P, path)
            e:set_time(T)
            assert(e:create_customer("u", "free"))
            assert.same({ false, "limit" }, { e:reserve("u", "api", 9) })
            assert(e:reserve("u", "api", 2))
            assert.same({ { "reserve", "denied", "limit", "free" }, { "reserve", "allowed", "NULL", "free" } },
                sql(path, "select op, result, reason, plan from log where op = 'reserve' order by seq"))
            assert.is_true(e:close())
        end)

        it("writes nothing with log = false", function()
            local path = tmp()
            local e = open(P, path, { log = false })
            assert(e:create_customer("u", "free"))
            assert.is_true(e:allow("u", "api", 1))
            assert.same({ false, "limit" }, { e:allow("u", "api", 9) })
            assert.is_true(e:checkpoint())
            assert.equals("0", sql1(path, "select count(*) from log"))
            assert.is_true(e:close())
            assert.equals("0", sql1(path, "select count(*) from log"))
            local e2 = open(nil, path, { log = false })
            assert.equals(1, e2:value("u", "api"))
            assert.is_true(e2:close())
            -- no rows to replay: only the newest snapshot is worth keeping
            assert.equals("1", sql1(path, "select count(*) from snapshots"))
        end)

        it("keeps at most max_rows rows after a checkpoint, the latest", function()
            local path = tmp()
            local e = open(P, path, { log = { max_rows = 3 } })
            assert(e:create_customer("u", "free"))
            for _ = 1, 10 do e:allow("u", "api", 1) end
            assert.is_true(e:checkpoint())
            assert.same({ { "3", "11" } }, sql(path, "select count(*), max(seq) from log"))
            assert.is_true(e:close())
            assert.is_true(tonumber(sql1(path, "select count(*) from log")) <= 3)
        end)
    end)

    describe("checkpoint and close", function()
        it("checkpoints a store; an engine of limitr.new has none", function()
            local path = tmp()
            local e = open(P, path)
            assert(e:create_customer("u", "free"))
            assert.is_true(e:checkpoint())
            assert.equals(0, #(read(path .. "-wal") or ""))
            assert.is_true(e:close())
            local n = H.engine(P)
            local err = H.fails("no_store", n:checkpoint())
            assert.equals("no store", err)
            assert.is_true(n:close())
            assert.is_true(n:close())
        end)

        it("closes twice; other methods then raise", function()
            local path = store_with(tmp(), 1)
            local e = open(nil, path)
            assert.is_true(e:close())
            assert.is_true(e:close())
            for _, call in ipairs({
                function() return e:allow("u", "api", 1) end,
                function() return e:value("u", "api") end,
                function() return e:checkpoint() end,
                function() return e:create_customer("v", "free") end,
            }) do
                local ok, err = pcall(call)
                assert.is_false(ok)
                assert.matches("engine is closed", tostring(err))
            end
            -- the lock went with close
            local e2 = open(nil, path)
            assert.equals(1, e2:value("u", "api"))
            assert.is_true(e2:close())
        end)
    end)

    describe("batch durability", function()
        it("writes within the window, read by another process while open", function()
            local path = tmp()
            local e = open(P, path, { durability = "batch", batch_ms = 20 })
            assert(e:create_customer("u", "free"))
            for _ = 1, 3 do assert.is_true(e:allow("u", "api", 1)) end
            os.execute("sleep 0.1")
            assert.equals("3", sql1(path,
                "select json_extract(doc, '$.meters.api.value') from customers where id = 'u'"))
            assert.equals("3", sql1(path, "select count(*) from log where op = 'allow'"))
            assert.is_true(e:allow("u", "api", 1))
            assert.is_true(e:close())
            local e2 = open(nil, path)
            assert.equals(4, e2:value("u", "api"))
            assert.is_true(e2:close())
        end)

        it("keeps every change while a 1 ms writer collects between calls", function()
            -- the writer takes the engine between calls hundreds of times:
            -- the reopened state must be exactly the in-memory engine's
            local big = [[
policy:
  credits: {req: {}}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: req, value: 1000000000, mode: hard}}
]]
            local path = tmp()
            local e = open(big, path, { durability = "batch", batch_ms = 1 })
            local mem = assert(limitr.new(big))
            for _, x in ipairs({ e, mem }) do x:set_time(T) end
            local t0 = os.clock()
            local i = 0
            while os.clock() - t0 < 0.4 do
                i = i + 1
                local id = "c" .. (i % 300)
                for _, x in ipairs({ e, mem }) do
                    if not x:customer(id) then assert(x:create_customer(id)) end
                    assert.is_true(x:allow(id, "api", i % 7 + 1))
                    if i % 97 == 0 then assert(x:delete_customer(id)) end
                end
            end
            assert.is_true(e:close())
            local back = open(nil, path)
            back:set_time(T)
            assert.equals(doc(mem), doc(back))
            assert.is_true(back:close())
        end)
    end)

    describe("what a call changes is written", function()
        local GRAPH = [[
policy:
  credits:
    token: {price: {amount: 0.1}}
    seat: {}
  plans:
    p:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 0, mode: soft}}
        seats: {scope: org, limit: {credit: seat, value: 100}}
]]
        local function org(e)
            e:set_time(T)
            assert(e:create_customer("acme", nil, { type = "org" }))
            assert(e:create_customer("eng", nil, { type = "team", refs = { "acme" } }))
            assert(e:create_customer("alice", nil, { refs = { "eng" } }))
            assert(e:add_customer_cap("acme", 100, { id = "budget", shared = true }))
        end

        it("writes the scope owner and a shared cap's holder, cached or not", function()
            local path = tmp()
            local e, mem = open(GRAPH, path), assert(limitr.new(GRAPH))
            for _, x in ipairs({ e, mem }) do
                org(x)
                for _ = 1, 5 do
                    assert.is_true(x:allow("alice", "seats", 1)) -- the org's meter
                    assert.is_true(x:check("alice", "chat", 1))  -- the cap walk, kept
                    assert.is_true(x:allow("alice", "chat", 1))  -- ... and reused
                end
            end
            assert.equals(5, e:value("acme", "seats"))
            assert.is_true(e:close())
            local back = open(nil, path)
            back:set_time(T)
            assert.equals(5, back:value("acme", "seats"))
            assert.equals(doc(mem), doc(back))
            assert.is_true(back:close())
        end)

        it("survives an import that replaces customers a batch was to write", function()
            local path = tmp()
            local e = open(P, path, { durability = "batch", batch_ms = 20 })
            assert(e:create_customer("a", "free"))
            local saved = assert(e:export())
            assert.is_true(e:allow("a", "api", 1))
            assert(e:import(saved, { replace = true }))
            os.execute("sleep 0.1")
            assert.equals(0, e:value("a", "api"))
            assert.is_true(e:close())
            local back = open(nil, path)
            assert.equals(0, back:value("a", "api"))
            assert.is_true(back:close())
        end)

        it("survives an import a handler makes inside a sync call", function()
            local path = tmp()
            local e = open(P, path)
            assert(e:create_customer("a", "free"))
            local saved = assert(e:export())
            assert.is_true(e:allow("a", "api", 2))
            local once = false
            e:on("customer-set", function()
                if once then return end
                once = true
                assert(e:import(saved, { replace = true }))
            end)
            e:create_customer("b", "free") -- its handler replaced everyone
            assert.is_nil(e:customer("b"))
            assert.equals(0, e:value("a", "api"))
            assert.is_true(e:close())
            local back = open(nil, path)
            assert.is_nil(back:customer("b"))
            assert.equals(0, back:value("a", "api"))
            assert.is_true(back:close())
        end)

        it("writes nothing for reads after a reopen", function()
            local path = store_with(tmp(), 2)
            local e = open(nil, path)
            local wal = #read(path .. "-wal")
            assert.equals(2, e:value("u", "api"))
            assert.is_true(e:check("u", "api", 1))
            assert.truthy(e:customer("u"))
            assert.equals(wal, #read(path .. "-wal"))
            assert.is_true(e:close())
        end)

        it("makes a store killed before its first write anew", function()
            local path = tmp()
            store_with(path, 0)
            -- a store with customers and no policy is not new: refused
            sql(path, "delete from meta where key = 'policy'")
            assert.matches("no policy in meta", (refused(P, { store = path })), 1, true)
            -- as if killed between the schema and the policy's first write
            sql(path, "delete from customers; delete from log")
            local r = refused(nil, { store = path, readonly = true })
            assert.matches("no policy in meta", r, 1, true)
            local e, info = open(P, path)
            assert.is_true(info.created)
            assert(e:create_customer("u", "free"))
            assert.is_true(e:close())
            local back = open(nil, path)
            assert.truthy(back:customer("u"))
            assert.is_true(back:close())
        end)
    end)

    describe("options", function()
        local function raises(opts, name)
            local path = tmp()
            opts.store = opts.store or path
            local ok, err = pcall(limitr.open, P, opts)
            assert.is_false(ok)
            assert(tostring(err):find(name, 1, true),
                ("the error names %q: %s"):format(name, tostring(err)))
            assert.is_false(exists(path))
        end

        it("raises on a bad option, naming it", function()
            raises({ durability = "fast" }, "durability")
            raises({ batch_ms = 0 }, "batch_ms")
            raises({ batch_ms = 70000 }, "batch_ms")
            raises({ log = "x" }, "log")
            raises({ store = 5 }, "store")
            raises({ colour = "blue" }, "colour")
        end)
    end)
end)
