-- bench_state.lua: export and import of 100,000 customers (issue 11, speed:
-- each under 2 s on the reference machine), and a reload under them.
-- Prints its figures; asserts nothing about time.
local limitr = require "limitr"

local POLICY = [[
policy:
  credits: {req: {}, tok: {}}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: req, value: 100, resets: true, reset_inc: 1day}}
        chat: {limit: {credit: tok, value: 1000, mode: soft}}
]]
local N = tonumber(os.getenv("LIMITR_BENCH_CUSTOMERS") or "") or 100000

local function clock()
    return os.clock()
end

local a = assert(limitr.new(POLICY))
a:set_time(1774872000000)
for i = 1, N do
    local id = "cus_" .. i
    a:create_customer(id, "free", i % 10 == 0 and { metadata = { tier = i % 3 } } or nil)
    a:allow(id, "api", i % 50)
    a:allow(id, "chat", i % 700)
end

local best_export, best_import, best_reload = math.huge, math.huge, math.huge
local text
for _ = 1, 3 do
    local t = clock()
    text = assert(a:export())
    best_export = math.min(best_export, clock() - t)
    local b = assert(limitr.new(POLICY))
    b:set_time(1774872000000)
    t = clock()
    assert(b:import(text))
    best_import = math.min(best_import, clock() - t)
    t = clock()
    assert(b:reload((POLICY:gsub("value: 100,", "value: 150,"))))
    best_reload = math.min(best_reload, clock() - t)
    assert(b:value("cus_7", "api") == 7)
    b:close()
end
print(("state: %d customers, %.1f MB document: export %.3f s, import %.3f s, "
    .. "reload %.3f s (best of 3)"):format(N, #text / 1e6, best_export, best_import, best_reload))
