-- state_roundtrip_spec.lua: a property test of state documents (export and
-- import, docs/roadmap.md section 2). Seeded random scenarios on a rich
-- policy (three plans, hard/soft/observe limits, interval and calendar
-- resets, a governor, MB units, priced and tiered credits with an
-- exchange, included and sold top-ups, org- and team-scoped entitlements,
-- value/on_exceed/overhead snippets, a second policy to reload into):
--
-- 1. an engine A runs random operations (customers with refs, types, alt
--    IDs and metadata; allow/check/increment/decrement; overrides; plan
--    changes; top-ups and grants; caps, shared ones too; reserve, settle,
--    release; observe; reloads; the clock moved across resets), each
--    result recorded, failures included;
-- 2. at two random points A's export is imported into a fresh engine B on
--    the same policy at the same time: B must export the same bytes, fire
--    nothing, and answer every read as A;
-- 3. then both run the same operations: every result, every event (its
--    payload dumped, sorted, during delivery), the export after each one,
--    the reads of the customer it named, and at the end every read, must
--    be the same;
-- 4. at the first point, a replace import into an engine holding other
--    customers gives the same export and reads, and a merge import into an
--    engine that holds one of the document's IDs (as an ID or an alt ID)
--    fails with "already exists" and changes nothing.
--
-- A failure names its seed and prints the operation log as Lua lines
-- ("A:" ran on A only, "both:" on A and B); LIMITR_RT_SEED=<seed> runs that
-- scenario alone, LIMITR_RT_SCENARIOS=<n> runs more or fewer. The PRNG
-- (Park-Miller) is exact with Lua 5.4 integers and with LuaJIT's doubles.
local limitr = require "limitr"

local unpack = table.unpack or unpack
-- locals: busted runs a spec in an environment where globals cost more
local type, pairs, ipairs, tostring, select, pcall, next, error, assert =
    type, pairs, ipairs, tostring, select, pcall, next, error, assert
local string, table, math = string, table, math
local sort, concat = table.sort, table.concat

local POLICY = [[
policy:
  lua: |
    function tier_of(c)
      local m = c.metadata
      if type(m) == "table" and type(m.tier) == "number" then return m.tier end
      return 1
    end
  hold_ttl: 6h
  estimate_min_samples: 3
  estimates:
    chat:
      all: {samples: 4, value_mean: 200, value_var: 100, overhead_mean: 0.01}
  exchange:
    grant_strategy: expires_first
    credit: {value: 0.01, currency: usd}
    euro: {value: 1.1, currency: usd}
  credits:
    credit: {description: prepaid credit}
    token: {price: {amount: 0.0001}, overhead_cost: 0.00004}
    request: {}
    storage: {units: MB, price: {amount: 0.001}}
    seat: {price: {amount: 5}}
    image:
      pricing_model: tiered
      tiers: [{up_to: 100, price: {amount: 0.04}}, {price: {amount: 0.02}}]
      overhead_cost: 0.01
      overhead: "function(units, ctx) if ctx and ctx.model == 'gpt' then return units * 0.02 end return units * 0.01 end"
    fee: {price: {amount: 20}}
  plans:
    free:
      default: true
      entitlements:
        chat:
          estimate_basis: input
          estimate_segment: model
          limit: {credit: token, value: 1000, resets: true, reset_inc: 1day}
        api:
          limit: {credit: request, value: 100, resets: true, reset_sch: "weekly:mon",
                  governor_enabled: true, governor_capacity: 20, governor_refill_rate: 0.0005}
        storage: {limit: {credit: storage, value: 1GB, mode: soft, minimum: 0}}
        events: {limit: {credit: request, mode: observe}}
        seats: {scope: org, limit: {credit: seat, value: 3, minimum: 0}}
        images: {limit: {credit: image, value: 10, mode: soft, resets: true, reset_sch: "monthly:1"}}
        quota:
          limit:
            credit: request
            value: "function(c) return tier_of(c) * 10 end"
            on_exceed: "function(ctx) if ctx.overage > 5 then return false, 'quota ceiling' end return true end"
        export_csv: {}
      topups:
        starter: {credit: token, value: 500, included: true}
        boost: {credit: credit, value: 100, price: {amount: 1, currency: usd}, expires_after: 3days}
        refill: {credit: token, value: 200, resets: true, reset_inc: 2days, reset_mode: add,
                 reset_catchup_cap: 2}
    pro:
      extends: free
      trial_period: 2days
      entitlements:
        chat:
          estimate_basis: input
          estimate_segment: model
          limit: {credit: token, value: 5000, mode: soft, resets: true, reset_sch: "monthly:1"}
        seats: {scope: org, limit: {credit: seat, value: 10, minimum: 0}}
        subscription: {limit: {credit: fee, value: 0, mode: soft, resets: true}}
        export_csv: false
      topups:
        monthly: {credit: credit, value: 1000, included: true, resets: true, reset_inc: 7days,
                  reset_mode: rollover, rollover_pct: 0.5, rollover_max: 400, max_balance: 1300}
        pool: {credit: token, value: 300, included: true, included_scopes: [org]}
    team:
      entitlements:
        chat: {limit: {credit: token, value: 2000, hard_trailing: true, resets: true, reset_inc: 12h}}
        api: {limit: {credit: request, value: 50, mode: soft}}
        seats: {scope: org, limit: {credit: seat, value: 5, minimum: 0}}
        storage: {scope: team, limit: {credit: storage, value: 500MB, grants_apply: false}}
      topups:
        starter: {credit: token, value: 500, included: true}
]]

-- The policy a reload may switch to (and back): storage kept in GB
-- (amounts converted), chat counted in requests on free (its meters
-- dormant), images dropped from free, a smaller governor, new seeds.
local function swap(text, from, to)
    local i, j = text:find(from, 1, true)
    assert(i and not text:find(from, j + 1, true), from)
    return text:sub(1, i - 1) .. to .. text:sub(j + 1)
end
local POLICY_V2 = POLICY
POLICY_V2 = swap(POLICY_V2, "storage: {units: MB, price: {amount: 0.001}}", "storage: {units: GB, price: {amount: 1}}")
POLICY_V2 = swap(POLICY_V2, "limit: {credit: token, value: 1000, resets: true, reset_inc: 1day}",
    "limit: {credit: request, value: 1000, resets: true, reset_inc: 1day}")
POLICY_V2 = swap(POLICY_V2, "        images: {limit: {credit: image, value: 10, mode: soft, resets: true, " ..
    "reset_sch: \"monthly:1\"}}\n", "")
POLICY_V2 = swap(POLICY_V2, "governor_capacity: 20", "governor_capacity: 8")
POLICY_V2 = swap(POLICY_V2, "all: {samples: 4, value_mean: 200", "all: {samples: 6, value_mean: 150")
POLICY_V2 = swap(POLICY_V2, "euro: {value: 1.1, currency: usd}", "euro: {value: 1.2, currency: usd}")
assert(limitr.new(POLICY_V2))
local POLICIES = { V1 = POLICY, V2 = POLICY_V2 }

local T0 = 1767225600000 -- 2026-01-01T00:00:00Z
local HOUR, DAY = 3600000, 86400000

local IDS = { "acme", "globex", "eng", "ops", "ann", "bob", "cat", "dan" }
local NATURAL = { acme = "org", globex = "org", eng = "team", ops = "team" }
local TYPES = { "user", "team", "org" }
local PLANS = { "free", "pro", "team" }
local ENTS = { "chat", "api", "storage", "events", "seats", "images", "quota", "export_csv", "subscription" }
local CREDITS = { "token", "request", "storage", "seat", "credit", "usd", "euro", "rune", "image", "fee" }
local SEGMENTS = { "gpt", "claude", "all" }
local CAP_IDS = { "k1", "k2", "k3", "cap-1", "cap-2", "cap-3" }
local GRANT_IDS = { "g1", "g2", "g3", "starter-1", "starter-2", "starter-3", "monthly-1", "grant-1", "grant-2" }

-- ---- A deterministic PRNG (Park-Miller; exact with integers and doubles) ----

local function prng(seed)
    local s = seed % 2147483646 + 1
    local r = {}
    function r.next()
        s = (s * 48271) % 2147483647
        return s
    end
    function r.int(lo, hi) return lo + r.next() % (hi - lo + 1) end
    function r.chance(p) return r.next() / 2147483647 < p end
    function r.pick(list) return list[r.int(1, #list)] end
    function r.float(lo, hi) return lo + (hi - lo) * (r.next() % 1000000) / 1000000 end
    return r
end

-- ---- A deterministic dump: Lua literal syntax, keys sorted ----

local function num(v)
    if v ~= v then return "0/0" end
    if v == math.huge then return "1/0" end
    if v == -math.huge then return "-1/0" end
    if math.type and math.type(v) == "integer" then return tostring(v) end
    return ("%.17g"):format(v)
end

local function dump(v, depth)
    depth = depth or 0
    local t = type(v)
    if t == "string" then return (("%q"):format(v):gsub("\\\n", "\\n")) end
    if t == "number" then return num(v) end
    if t ~= "table" then return tostring(v) end
    if depth > 40 then return "<deep>" end
    -- keys sorted: numbers first, then strings (each with the plain <)
    local nums, strs, other = {}, {}, {}
    for k in pairs(v) do
        local tk = type(k)
        if tk == "number" then nums[#nums + 1] = k
        elseif tk == "string" then strs[#strs + 1] = k
        else other[#other + 1] = k end
    end
    sort(nums)
    sort(strs)
    local parts = {}
    if #strs == 0 and #other == 0 and nums[#nums] == #nums then -- a list 1..n
        for i = 1, #nums do parts[i] = dump(v[i], depth + 1) end
        return "{" .. concat(parts, ", ") .. "}"
    end
    for _, k in ipairs(nums) do parts[#parts + 1] = "[" .. num(k) .. "] = " .. dump(v[k], depth + 1) end
    for _, k in ipairs(strs) do
        local x = dump(v[k], depth + 1)
        if k:match("^[%a_][%w_]*$") then
            parts[#parts + 1] = k .. " = " .. x
        else
            parts[#parts + 1] = "[" .. dump(k) .. "] = " .. x
        end
    end
    for _, k in ipairs(other) do parts[#parts + 1] = "[" .. tostring(k) .. "] = " .. dump(v[k], depth + 1) end
    return "{" .. concat(parts, ", ") .. "}"
end

local function pack(...) return { n = select("#", ...), ... } end

local function dump_results(r)
    local parts = {}
    for i = 1, r.n do parts[i] = dump(r[i]) end
    return table.concat(parts, ", ")
end

-- ---- Operations ----

-- An operation is {fn, args, n}: the engine method and its arguments. The
-- generator draws them from the PRNG alone (it tracks the clock and the
-- hold numbers it may have made), so a seed always gives the same list.

local function op(fn, ...)
    return { fn = fn, args = { ... }, n = select("#", ...) }
end

local function op_text(o, engine)
    local parts = {}
    for i = 1, o.n do parts[i] = dump(o.args[i]) end
    return ("%s:%s(%s)"):format(engine or "e", o.fn, table.concat(parts, ", "))
end

local function gen_value(r, ent)
    if r.chance(0.08) then return -r.int(1, 50) end
    if r.chance(0.03) then return 0 end
    if ent == "storage" then
        local v = r.pick({ "250MB", "0.2GB", "1GB", "40MB", 120, 700 })
        if r.chance(0.05) then v = "3s" end -- the wrong dimension
        return v
    elseif ent == "chat" then
        if r.chance(0.3) then return r.int(1, 100) + r.int(0, 999) / 1000 end
        return r.int(1, 1200)
    elseif ent == "api" or ent == "events" then
        return r.int(1, 30)
    elseif ent == "seats" then
        return r.int(1, 3)
    elseif ent == "images" then
        return r.int(1, 40)
    end
    return r.int(1, 10)
end

local function number_value(r, ent)
    local v = gen_value(r, ent)
    if type(v) == "string" then return r.pick({ 40, 120, 700 }) end
    return v
end

local function gen_event(r)
    if r.chance(0.1) then return false end
    local ev = {}
    if r.chance(0.7) then ev.model = r.pick(SEGMENTS) end
    if r.chance(0.5) then ev.input = r.int(1, 500) end
    if r.chance(0.2) then ev.note = "x" .. r.int(1, 9) end
    return ev
end

local function gen_period(r, t, now)
    if r.chance(0.5) then
        t.resets = true
        if r.chance(0.5) then
            t.reset_inc = r.pick({ "1day", "6h", 3 * DAY, "1week" })
        else
            t.reset_sch = r.pick({ "monthly:1", "weekly:tue", "nth_weekday:2:fri", "monthly:last",
                "quarterly:15", "yearly:3-1", "Weekly:SUN" })
        end
    end
end

local function gen_override(r, now)
    local f = {}
    if r.chance(0.7) then f.value = r.pick({ 0, 5, 50, 500, 2000, 12.5 }) end
    if r.chance(0.3) then f.mode = r.pick({ "hard", "soft", "observe" }) end
    if r.chance(0.3) then gen_period(r, f, now) end
    if r.chance(0.2) then
        f.governor_enabled = true
        f.governor_capacity = r.pick({ 5, 30 })
        f.governor_refill_rate = r.pick({ 0.001, 0.0001, 0.0001, 0.0001, 0.0001, 1e21 })
    end
    if r.chance(0.3) then f.expires = now + r.int(1, 5) * HOUR * r.int(1, 30) end
    if r.chance(0.15) then f.minimum = 0 end
    if r.chance(0.1) then f.hard_trailing = true end
    if r.chance(0.15) then f.grants_apply = false end
    if r.chance(0.1) then f.increment = r.pick({ 2, 0.5 }) end
    if r.chance(0.1) then f.ewma_alpha = 0.5 end
    if r.chance(0.1) then f.credit = r.pick({ "token", "request", "seat" }) end
    return f
end

local function gen_grant(r, now)
    local g = { credit = r.pick({ "token", "token", "token", "credit", "usd", "euro", "storage" }) }
    if r.chance(0.03) then g.credit = "nope" end
    if r.chance(0.9) then g.value = r.pick({ 0, 10, 100, 250.5, 1000 }) end
    if r.chance(0.6) then g.id = "g" .. r.int(1, 3) end
    if r.chance(0.3) then g.expires_on = now + r.int(1, 96) * HOUR end
    if r.chance(0.6) then
        gen_period(r, g, now)
        if g.resets then
            if r.chance(0.7) then g.reset_mode = r.pick({ "hard", "add", "rollover" }) end
            if g.reset_mode == "rollover" then
                if r.chance(0.5) then g.rollover_pct = r.pick({ 0, 0.25, 1 }) end
                if r.chance(0.3) then g.rollover_min = 5 end
                if r.chance(0.3) then g.rollover_max = 50 end
            end
            if r.chance(0.3) then g.max_balance = r.pick({ 100, 400 }) end
            if r.chance(0.5) then g.reset_catchup_cap = r.int(0, 3) end
        end
    end
    return g
end

local function gen_cap(r, now)
    local o = {}
    if r.chance(0.8) then o.id = "k" .. r.int(1, 3) end
    if r.chance(0.4) then o.credit = r.pick({ "rune", "usd", "euro", "token", "credit", "request" }) end
    if r.chance(0.4) then o.shared = true end
    if o.shared and r.chance(0.3) then o.shared_with = { r.pick(TYPES) } end
    if r.chance(0.2) then o.scope = { r.pick(ENTS) } end
    if r.chance(0.25) then gen_period(r, o, now) end
    if r.chance(0.15) then o.overage_only = true end
    if r.chance(0.15) then o.ignore_grants = true end
    if r.chance(0.15) then o.observe_only = true end
    if r.chance(0.1) then o.overhead_cost = true end
    if r.chance(0.2) then o.follow_decrements = true end
    if r.chance(0.15) then o.hard_trailing = true end
    if r.chance(0.15) then o.expires_on = now + r.int(1, 96) * HOUR end
    if r.chance(0.1) then o.events = false end
    if r.chance(0.1) then o.exchangeable = r.chance(0.5) end
    return r.pick({ 0.05, 0.3, 1, 2.5, 10, "500MB" }), o
end

local function gen_refs(r, id)
    local refs = {}
    for _ = 1, r.int(0, 2) do
        local x = r.pick(IDS)
        if x ~= id or r.chance(0.1) then refs[#refs + 1] = x end
    end
    if r.chance(0.1) then refs[#refs + 1] = "ghost" end
    return refs
end

local function gen_call_opts(r)
    if r.chance(0.5) then return nil end
    local o = {}
    if r.chance(0.6) then o.event = gen_event(r) end
    if r.chance(0.15) then o.force = true end
    if r.chance(0.1) then o.caps = { rune = r.pick({ 0.01, 0.5 }) } end
    if r.chance(0.05) then o.overhead = 0.02 end
    return o
end

local function generator(seed)
    local r = prng(seed)
    local g = { now = T0, holds = 0 }
    local function cid()
        if r.chance(0.03) then return "nobody" end
        if r.chance(0.05) then return r.pick(IDS) .. "@alt" .. r.int(1, 2) end
        return r.pick(IDS)
    end
    local function ent()
        if r.chance(0.03) then return "nope" end
        return r.pick(ENTS)
    end
    local function hold()
        if g.holds == 0 or r.chance(0.1) then return "h" .. r.int(1, g.holds + 2) end
        return "h" .. r.int(math.max(1, g.holds - 3), g.holds)
    end
    -- weights: {weight, builder}
    local kinds = {
        { 10, function()
            local id = r.pick(IDS)
            local plan = nil
            if r.chance(0.6) then plan = r.pick(PLANS) end
            if r.chance(0.03) then plan = "nope" end
            local opts = {}
            if r.chance(0.85) then opts.type = NATURAL[id] or "user" else opts.type = r.pick(TYPES) end
            if r.chance(0.7) then opts.refs = gen_refs(r, id) end
            if r.chance(0.3) then opts.alt_ids = { id .. "@alt" .. r.int(1, 2) } end
            if r.chance(0.3) then
                opts.metadata = r.pick({ { tier = r.int(1, 3) }, { tags = { "a", "b" }, n = 1.5 }, "note", 7 })
            end
            if r.chance(0.2) then opts.label = "L" .. r.int(1, 9) end
            if r.chance(0.02) then opts.label = ("long label "):rep(400) end -- 4,400 bytes
            return op("create_customer", id, plan, opts)
        end },
        { 1, function() return op("delete_customer", cid()) end },
        { 3, function() local id = r.pick(IDS) return op("set_customer_refs", id, gen_refs(r, id)) end },
        { 3, function()
            local plan = r.pick(PLANS)
            if r.chance(0.3) then return op("set_customer_plan", cid(), plan, { overwrite_meters = true }) end
            return op("set_customer_plan", cid(), plan)
        end },
        { 1, function() local id = r.pick(IDS) return op("set_alt_customer_id", cid(), id .. "@alt" .. r.int(1, 2)) end },
        { 1, function() return op("delete_alt_customer_id", r.pick(IDS) .. "@alt" .. r.int(1, 2)) end },
        { 30, function()
            local e = ent()
            return op("allow", cid(), e, gen_value(r, e), gen_call_opts(r))
        end },
        { 4, function() local e = ent() return op("check", cid(), e, gen_value(r, e)) end },
        { 5, function() return op(r.chance(0.5) and "increment" or "decrement", cid(), ent(), gen_call_opts(r)) end },
        { 4, function() return op("create_customer_override", cid(), ent(), gen_override(r, g.now)) end },
        { 1, function() return op("remove_customer_override", cid(), ent()) end },
        { 2, function() return op("apply_customer_topup", cid(), r.pick({ "boost", "refill", "monthly", "nope" })) end },
        { 1, function() return op("ensure_included_topups", cid()) end },
        { 6, function() return op("add_customer_grant", cid(), gen_grant(r, g.now)) end },
        { 2, function() return op("remove_customer_grant", cid(), r.pick(GRANT_IDS)) end },
        { 6, function() local v, o = gen_cap(r, g.now) return op("add_customer_cap", cid(), v, o) end },
        { 2, function() return op("reset_customer_cap", cid(), r.pick(CAP_IDS)) end },
        { 2, function() return op("remove_customer_cap", cid(), r.pick(CAP_IDS)) end },
        { 8, function()
            g.holds = g.holds + 1 -- a number the engine may have given (or not)
            local e = r.pick({ "chat", "chat", "api", "images", "storage", "seats" })
            local o = {}
            if r.chance(0.5) then o.event = gen_event(r) end
            if r.chance(0.3) then o.ttl = r.pick({ 60000, HOUR, 5 * HOUR }) end
            if r.chance(0.1) then o.overhead = 0.05 end
            if r.chance(0.2) then o.segment = r.pick(SEGMENTS) end
            if r.chance(0.2) then o.basis = r.int(1, 100) end
            return op("reserve", cid(), e, r.chance(0.4) and nil or number_value(r, e), o)
        end },
        { 5, function()
            local e = r.pick({ "chat", "chat", "api", "images", "storage", "seats" })
            local o = nil
            if r.chance(0.3) then o = { event = gen_event(r) } end
            return op("settle", cid(), e, hold(), number_value(r, e), o)
        end },
        { 3, function()
            return op("release", cid(), r.pick({ "chat", "api", "images", "storage" }), hold())
        end },
        { 3, function()
            local e = r.pick({ "chat", "chat", "api", "images", "nope" })
            local o = {}
            if r.chance(0.5) then o.event = gen_event(r) or nil end
            if r.chance(0.3) then o.basis = r.int(1, 200) end
            if r.chance(0.3) then o.segment = r.pick(SEGMENTS) end
            if r.chance(0.2) then o.overhead = 0.03 end
            return op("observe", cid(), e, r.int(1, 900), o)
        end },
        { 1, function() return op("ensure_plan_subscription", cid()) end },
        { 8, function()
            local ms
            local k = r.int(1, 10)
            if k <= 4 then ms = r.int(1, 120000)
            elseif k <= 8 then ms = r.int(1, 12) * HOUR + r.int(0, 999)
            else ms = r.int(1, 9) * DAY + r.int(0, HOUR) end
            g.now = g.now + ms
            return op("advance", ms)
        end },
        { 1, function() return op("reload", r.pick({ "V1", "V2" })) end },
        { 1, function()
            local to = g.now + r.int(-3, 3) * HOUR
            g.now = to
            return op("set_time", to)
        end },
    }
    -- churn: a cap or a grant removed and made again under the same ID
    -- (while reservations may hold room in the old one)
    local queue = {}
    kinds[#kinds + 1] = { 6, function()
        local id = cid()
        if r.chance(0.5) then
            local k = r.pick({ "k1", "k2" })
            if r.chance(0.5) then id, k = "acme", "k1" end
            local v, o = gen_cap(r, g.now)
            o.id = k
            queue[#queue + 1] = op("add_customer_cap", id, v, o)
            return op("remove_customer_cap", id, k)
        end
        local gr = gen_grant(r, g.now)
        gr.id = r.pick({ "g1", "g2" })
        queue[#queue + 1] = op("add_customer_grant", id, gr)
        return op("remove_customer_grant", id, gr.id)
    end }
    local total = 0
    for _, k in ipairs(kinds) do total = total + k[1] end
    return function()
        if #queue > 0 then return table.remove(queue, 1) end
        local x = r.int(1, total)
        for _, k in ipairs(kinds) do
            x = x - k[1]
            if x <= 0 then return k[2]() end
        end
    end, r
end

-- ---- Engines and their observations ----

-- A new engine on `policy` (default POLICY), its clock at `time`, every
-- event it delivers recorded as text (the payload dumped during delivery).
local function new_engine(time, policy)
    local e = assert(limitr.new(policy or POLICY))
    assert(e:set_time(time))
    local seen = {}
    e:on("*", function(ev, name)
        seen[#seen + 1] = name .. " " .. dump(ev) -- read during delivery
    end)
    return e, seen
end

local function run(e, o)
    local args = o.args
    if o.fn == "reload" then args = { POLICIES[o.args[1]] } end
    local r = pack(pcall(e[o.fn], e, unpack(args, 1, o.n)))
    if not r[1] then return "raised: " .. tostring(r[2]) end
    return dump_results(pack(unpack(r, 2, r.n)))
end

-- What an engine answers to reads (which write nothing), as text lines.
-- Light (after each operation, beside the whole export): the snapshot and
-- the meter numbers of the customer the operation named. Full (at import
-- points and at the end): every read of every customer and entitlement.
local function v3(a, b, c)
    return (type(a) == "number" and num(a) or tostring(a)) .. "|" .. tostring(b) .. "|" .. tostring(c)
end

local function reads(e, full, touched)
    local out = {}
    local function add(label, ...) out[#out + 1] = label .. " -> " .. dump_results(pack(...)) end
    out[1] = "now " .. num(e:now())
    if touched then add("customer " .. touched, e:customer(touched)) end
    for _, id in ipairs(IDS) do
        if full then add("customer " .. id, e:customer(id)) end
        for _, ent in ipairs((full or id == touched) and ENTS or {}) do
            local w = id .. " " .. ent .. " "
            out[#out + 1] = w .. v3(e:value(id, ent)) .. " " .. v3(e:remaining(id, ent)) .. " " ..
                v3(e:limit(id, ent))
            if full then
                add("value% " .. w, e:value(id, ent, { percent = true }))
                add("remaining% " .. w, e:remaining(id, ent, { percent = true }))
                add("limit-nogrants " .. w, e:limit(id, ent, { grants = false }))
                add("cost " .. w, e:cost(id, ent))
                add("resets " .. w, e:resets(id, ent))
                add("allowance " .. w, e:allowance(id, ent))
                add("rate " .. w, e:rate(id, ent))
                add("acceleration " .. w, e:acceleration(id, ent))
                add("projected " .. w, e:projected_exhaustion(id, ent))
                add("projected-smoothed " .. w, e:projected_exhaustion(id, ent, { smoothed = true }))
                add("held " .. w, e:held(id, ent))
                add("explain " .. w, e:explain(id, ent, 7))
                add("check " .. w, e:check(id, ent, 3))
                add("estimate " .. w, e:estimate(id, ent))
                add("estimate-gpt " .. w, e:estimate(id, ent, { segment = "gpt", basis = 10, quantile = 0.5 }))
            end
        end
        if full then
            for _, c in ipairs(CREDITS) do
                add("credit_remaining " .. id .. " " .. c, e:credit_remaining(id, c))
            end
            for _, k in ipairs(CAP_IDS) do
                add("customer_cap " .. id .. " " .. k, e:customer_cap(id, k))
            end
            add("margins " .. id, e:customer_local_margin_breakdown(id))
            add("plan " .. id, e:plan(id))
            add("export " .. id, e:export(id))
        end
    end
    return out
end

-- ---- The property ----

local function first_difference(a, b)
    for i = 1, math.max(#a, #b) do
        if a[i] ~= b[i] then
            local label = tostring(a[i] or b[i]):match("^(.-) %-> ") or ("line " .. i)
            return ("%s:\n  A: %s\n  B: %s"):format(label, tostring(a[i]), tostring(b[i]))
        end
    end
end

local function text_difference(a, b)
    if a == b then return nil end
    local i = 1
    while i <= #a and a:sub(i, i) == b:sub(i, i) do i = i + 1 end
    local from = math.max(1, i - 200)
    return ("the texts differ at byte %d:\n  A: ...%s\n  B: ...%s"):format(i, a:sub(from, i + 200),
        b:sub(from, i + 200))
end

-- The first pool ID the engine holds as a customer's own ID.
local function held_id(e)
    for _, id in ipairs(IDS) do
        local c = e:customer(id)
        if c and c.id == id then return id end
    end
end

-- Runs the operations `ops` with imports at the positions in `cuts` (after
-- ops[cut]); returns nil when the property holds, else a description of
-- the first failure. `extra`: also check the replace and merge imports (at
-- the first import point).
local function check_ops(ops, cuts, extra)
    local a, seen_a = new_engine(T0)
    local b, seen_b
    local log = { ("local A = limitr.new(POLICY); A:set_time(%d)"):format(T0) }
    local function fail(what)
        return what, log
    end
    local cut_at = {}
    for _, c in ipairs(cuts) do cut_at[c] = true end
    local function import_point(i)
        local text = a:export()
        log[#log + 1] = ("-- import point after op %d: B = limitr.new(A:policy_text()); B:set_time(A:now()); B:import(A:export())"):format(i)
        local seen
        b, seen = new_engine(a:now(), a:policy_text())
        local res, err, code = b:import(text)
        if not res then return fail(("import failed: %s (%s)"):format(tostring(err), tostring(code))) end
        if #seen > 0 then return fail("import fired events: " .. seen[1]) end
        if type(res.warnings) ~= "table" then return fail("import answered " .. dump(res)) end
        local back = b:export()
        local d = text_difference(text, back)
        if d then return fail("B:export() ~= A:export() right after the import; " .. d) end
        seen_b = seen
        local ra, rb = reads(a, true), reads(b, true)
        d = first_difference(ra, rb)
        if d then return fail("reads differ right after the import, " .. d) end
        if a:export() ~= text or b:export() ~= back then return fail("reads changed an export") end
        if extra and i == cuts[1] then
            -- replace into an engine that holds other customers
            local c = new_engine(T0 + 12345, a:policy_text())
            assert(c:create_customer("zed", "pro", { alt_ids = { "ann" } }))
            assert(c:create_customer("acme", "team", { type = "org" }))
            c:allow("acme", "chat", 30)
            c:observe("zed", "chat", 40, { segment = "gpt" })
            assert(c:add_customer_cap("zed", 3, { id = "zc", shared = true }))
            assert(c:set_time(a:now()))
            local r2, err2 = c:import(text, { replace = true })
            if not r2 then return fail("replace import failed: " .. tostring(err2)) end
            local got = c:export()
            d = text_difference(text, got)
            if d then return fail("replace import: export differs; " .. d) end
            d = first_difference(ra, reads(c, true))
            if d then return fail("reads differ after the replace import, " .. d) end
            -- a merge over an ID the engine holds fails and changes nothing
            local id = held_id(a)
            if id then
                local m = new_engine(a:now(), a:policy_text())
                assert(m:create_customer("other", "free"))
                assert(m:create_customer(id, "team", { type = "org" }))
                local before = m:export()
                local r3, err3, code3 = m:import(text)
                if r3 ~= nil then return fail("a merge over '" .. id .. "' succeeded") end
                if not tostring(err3):find("already exists", 1, true) then
                    return fail("a merge over '" .. id .. "' failed without 'already exists': " .. tostring(err3))
                end
                if code3 ~= "invalid_state" then return fail("merge conflict code " .. tostring(code3)) end
                if m:export() ~= before then return fail("a failed merge changed the engine") end
                -- the same through an alt ID
                local m2 = new_engine(a:now(), a:policy_text())
                assert(m2:create_customer("other2", "free", { alt_ids = { id } }))
                before = m2:export()
                r3, err3 = m2:import(text)
                if r3 ~= nil or not tostring(err3):find("already exists", 1, true) then
                    return fail("a merge over the alt ID '" .. id .. "' gave " .. dump_results(pack(r3, err3)))
                end
                if m2:export() ~= before then return fail("a failed merge (alt ID) changed the engine") end
                -- into an engine without those IDs it merges
                local m3 = new_engine(a:now(), a:policy_text())
                assert(m3:create_customer("zz-other", "free"))
                local r4, err4 = m3:import(text)
                if not r4 then return fail("a merge into an engine without the IDs failed: " .. tostring(err4)) end
                local again = m3:export()
                for cid in text:gmatch('"id":"([^"]*)","included"') do
                    d = text_difference(a:export(cid), m3:export(cid))
                    if d then return fail("merge import: export(" .. cid .. ") differs; " .. d) end
                end
                if not again:find('"id":"zz-other"', 1, true) then return fail("a merge lost a customer") end
            end
        end
    end
    for i, o in ipairs(ops) do
        local na = #seen_a
        local ra = run(a, o)
        log[#log + 1] = op_text(o, b and "both" or "A") .. "  --> " ..
            (#ra > 300 and ra:sub(1, 300) .. "..." or ra)
        if b then
            local nb = #seen_b
            local rb = run(b, o)
            if ra ~= rb then
                return fail(("op %d %s: results differ\n  A: %s\n  B: %s"):format(i, op_text(o), ra, rb))
            end
            local ea, eb = {}, {}
            for k = na + 1, #seen_a do ea[#ea + 1] = seen_a[k] end
            for k = nb + 1, #seen_b do eb[#eb + 1] = seen_b[k] end
            local d = first_difference(ea, eb)
            if d then return fail(("op %d %s: events differ, %s"):format(i, op_text(o), d)) end
            local xa, xb = a:export(), b:export()
            local dx = text_difference(xa, xb)
            if dx then return fail(("op %d %s: exports differ; %s"):format(i, op_text(o), dx)) end
            local touched = type(o.args[1]) == "string" and o.fn ~= "delete_alt_customer_id" and o.args[1] or nil
            d = first_difference(reads(a, false, touched), reads(b, false, touched))
            if d then return fail(("op %d %s: reads differ, %s"):format(i, op_text(o), d)) end
        end
        if cut_at[i] then
            local what = import_point(i)
            if what then return fail(what) end
        end
    end
    if b then
        local d = first_difference(reads(a, true), reads(b, true))
        if d then return fail("full reads differ at the end, " .. d) end
        local ta, tb = a:export(), b:export()
        d = text_difference(ta, tb)
        if d then return fail("A:export() ~= B:export() at the end; " .. d) end
    end
    return nil
end

-- The customers most scenarios start with: two orgs, a team under each,
-- users under them (plans, refs and alt IDs drawn).
local function setup(r)
    local ops = {}
    local function plan() return r.chance(0.35) and r.pick(PLANS) or nil end
    local function create(id, opts)
        if r.chance(0.1) then return end
        if r.chance(0.2) then opts.alt_ids = { id .. "@alt1" } end
        if r.chance(0.3) then opts.metadata = { n = r.int(1, 9), tier = r.int(1, 4) } end
        local plan = opts.plan
        opts.plan = nil
        ops[#ops + 1] = op("create_customer", id, plan, next(opts) and opts or nil)
    end
    create("acme", { plan = r.pick(PLANS), type = "org" })
    create("globex", { plan = plan(), type = "org" })
    create("eng", { plan = plan(), type = "team", refs = { "acme" } })
    create("ops", { plan = plan(), type = "team", refs = { r.pick({ "acme", "globex" }) } })
    create("ann", { plan = plan(), refs = { "eng" } })
    create("bob", { plan = plan(), refs = { "acme" } })
    create("cat", { plan = plan(), refs = { "ops", "eng" } })
    create("dan", { plan = plan() })
    if r.chance(0.6) then ops[#ops + 1] = op("add_customer_cap", "acme", r.pick({ 5, 50 }), { id = "k1", shared = true }) end
    if r.chance(0.4) then ops[#ops + 1] = op("add_customer_cap", r.pick(IDS), r.pick({ 2, 20 }), { id = "k2" }) end
    if r.chance(0.5) then
        ops[#ops + 1] = op("add_customer_grant", r.pick(IDS), { id = "g1", credit = "token", value = r.pick({ 100, 1000 }) })
    end
    return ops
end

local function scenario(seed, n_ops)
    local next_op, r = generator(seed)
    local ops = r.chance(0.9) and setup(r) or {}
    for _ = #ops + 1, n_ops do ops[#ops + 1] = next_op() end
    local cuts = { r.int(10, 45), r.int(55, n_ops - 15) }
    return ops, cuts
end

local M = { POLICY = POLICY, generator = generator, scenario = scenario, check_ops = check_ops, dump = dump }

if describe then
    describe("state documents", function()
        it("round-trip: the imported engine exports the same bytes and behaves as the original", function()
            local only = tonumber(os.getenv("LIMITR_RT_SEED") or "")
            local count = only and 1 or tonumber(os.getenv("LIMITR_RT_SCENARIOS") or "") or 36
            local failures, first = {}, nil
            for k = 1, count do
                local seed = only or (20260101 + k * 7919)
                local ops, cuts = scenario(seed, 100)
                local what, log = check_ops(ops, cuts, true)
                if what then
                    failures[#failures + 1] = ("  seed %d: %s"):format(seed, (what:match("^[^\n]*")))
                    first = first or ("seed %d (imports after ops %d and %d): %s\n-- the operations:\n%s")
                        :format(seed, cuts[1], cuts[2], what, table.concat(log, "\n"))
                end
            end
            if first then
                error(("%d of %d scenarios fail:\n%s\n\nThe first one: %s"):format(#failures, count,
                    table.concat(failures, "\n"), first), 0)
            end
        end)
    end)
end

return M
