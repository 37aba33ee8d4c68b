-- The durable store under SIGKILL (docs/store.md): a child process meters
-- through a store and is killed at random moments; the store reopened must
-- hold every call the child saw acknowledged. The child runs on Lua 5.4's
-- module whichever host runs this spec.
local H = require "helpers"
local limitr = require "limitr"

local POLICY = [[
policy:
  credits: {req: {}}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: req, value: 1000000000, mode: hard}}
]]

-- The child: opens the store (arg 1) with durability arg 2 and batch_ms
-- arg 3, then either loops allow printing "ok" after each acknowledged one
-- (arg 4 "loop"), or allows arg 4 times, prints "done" and idles.
local CHILD = [[
local limitr = require "limitr"
local store, durability, batch_ms, what = arg[1], arg[2], tonumber(arg[3]), arg[4]
local e = assert(limitr.open(arg[5], {store = store, durability = durability, batch_ms = batch_ms}))
if not e:customer("u") then assert(e:create_customer("u")) end
io.stdout:setvbuf("line")
print("ready")
if what == "loop" then
    while true do
        assert(e:allow("u", "api", 1) == true)
        print("ok")
    end
else
    for _ = 1, tonumber(what) do assert(e:allow("u", "api", 1) == true) end
    print("done")
    while true do os.execute("sleep 1") end
end
]]

local function write(path, text)
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
end

local function read(path)
    local f = io.open(path)
    if not f then return "" end
    local s = f:read("*a")
    f:close()
    return s
end

local function count(text, word)
    local n = 0
    for _ in text:gmatch(word .. "\n") do n = n + 1 end
    return n
end

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))
local store, out, child, policy = dir .. "/k.db", dir .. "/out", dir .. "/child.lua", dir .. "/p.yaml"
write(child, CHILD)
write(policy, POLICY)

local function env()
    local root = H.root()
    return ("LUA_PATH=%q LUA_CPATH=%q"):format(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;",
        H.build() .. "/?.so;;")
end

-- Starts the child in the background; its pid.
local function spawn(durability, batch_ms, what)
    os.remove(out) -- no word of the last child is read as this one's
    local cmd = ("%s lua5.4 %q %q %s %d %s %q > %q 2>&1 & echo $!"):format(env(), child, store,
        durability, batch_ms, what, policy, out)
    local p = assert(io.popen(cmd))
    local pid = tonumber(p:read("*l"))
    p:close()
    return pid
end

local function wait_for(word, seconds)
    local t = os.time() + seconds
    while count(read(out), word) == 0 do
        assert(os.time() <= t, "the child did not say " .. word .. ": " .. read(out))
        os.execute("sleep 0.01")
    end
end

-- Kills pid and waits until it is dead: gone, or a zombie (its files,
-- and so its lock, are closed by then; reaping it is its parent's).
local function kill(pid)
    os.execute(("kill -9 %d"):format(pid))
    while true do
        local stat = read("/proc/" .. pid .. "/stat")
        if stat == "" or stat:match("^%d+ %b() (%a)") == "Z" then return end
        os.execute("sleep 0.01")
    end
end

local function stored_value()
    local e = assert(limitr.open(nil, {store = store, readonly = true}))
    local v = e:customer("u") and e:value("u", "api") or 0
    e:close()
    return v
end

local function clean()
    for _, suffix in ipairs({"", "-wal", "-shm", "-lock"}) do os.remove(store .. suffix) end
end

describe("a store killed with SIGKILL", function()
    teardown(function()
        clean()
        os.remove(out)
        os.remove(child)
        os.remove(policy)
        os.remove(dir)
    end)

    it("sync: keeps every acknowledged allow, and at most the one in flight more", function()
        clean()
        math.randomseed(os.time())
        local before = 0
        for round = 1, 8 do
            local pid = spawn("sync", 50, "loop")
            wait_for("ready", 10)
            os.execute(("sleep 0.%02d"):format(math.random(2, 25)))
            kill(pid)
            local acked = count(read(out), "ok")
            local now = stored_value()
            assert.is_true(acked > 0 or round > 1, "the child acknowledged nothing")
            -- every acknowledged one is there; one more may have committed
            -- between its write and its "ok"
            assert.is_true(now - before >= acked and now - before <= acked + 1,
                ("round %d: %d acknowledged, the store moved by %d"):format(round, acked, now - before))
            before = now
        end
    end)

    it("batch: a commit followed by idleness is written without another call", function()
        clean()
        local pid = spawn("batch", 50, "25")
        wait_for("done", 10)
        -- the writer flushes on its own within about 3 x batch_ms; a loaded
        -- machine may take longer, so this waits up to 5 s for it while
        -- the child sits idle, then kills it
        local deadline = os.time() + 5
        os.execute("sleep 0.15")
        while stored_value() ~= 25 and os.time() <= deadline do os.execute("sleep 0.05") end
        kill(pid)
        assert.equals(25, stored_value())
    end)

    it("a killed writer leaves no lock behind: the next one opens at once", function()
        clean()
        local pid = spawn("sync", 50, "3")
        wait_for("done", 10)
        kill(pid)
        local e, info = limitr.open(nil, {store = store})
        assert.truthy(e, info)
        assert.equals(3, e:value("u", "api"))
        assert.is_true(e:close())
    end)
end)
