-- A small reference model of limitr's metering (docs/engine.md sections 3, 4, 5,
-- 9 and 10.2; docs/policy.md section 12), used by model_spec.lua.
--
-- It is written to be obviously correct, not fast and not like the engine:
-- time is integer ms; a calendar period start is found by walking back day by
-- day from today until a day that is a boundary, a boundary day being decided
-- from os.date("!*t") fields and a leap-year month-length table; meter values
-- stay exact because every amount is a multiple of 0.5.
--
-- The module also holds the policy both sides run (POLICY, generated from
-- the same tables), so a failing sequence printed by model_spec.lua can be
-- replayed with:  local e = require("limitr").new(require("model_reference").POLICY)
local M = {}

local DAY = 86400000
M.DAY = DAY

-- Reset kinds: `inc` = interval in ms, `sch` = calendar schedule.
M.RESETS = {
    { key = "none" },
    { key = "d1", inc = DAY, yaml = "reset_inc: 1day" },
    { key = "m90", inc = 90 * 60000, yaml = "reset_inc: 90min" },
    { key = "d30", inc = 30 * DAY, yaml = "" }, -- resets: true alone = 30days
    { key = "mo31", sch = "monthly:31" },
    { key = "molast", sch = "monthly:last" },
    { key = "mo1", sch = "monthly:1" },
    { key = "mo29", sch = "monthly:29" },
    { key = "wmon", sch = "weekly:mon" },
    { key = "wsun", sch = "weekly:sunday" },
    { key = "q15", sch = "quarterly:15" },
    { key = "q31", sch = "quarterly:31" },
    { key = "y229", sch = "yearly:2-29" },
    { key = "y1231", sch = "yearly:12-31" },
    { key = "nth2tue", sch = "nth_weekday:2:tue" },
}
M.MODES = { "hard", "soft", "observe" }

-- Plans: every mode x reset kind, with the plan's value and increment, and
-- the plan's `minimum` (0, or a floor below zero) on every other
-- entitlement. Plan a also has a feature flag, so plan b customers meet
-- unknown_entitlement on it.
M.PLAN_DEFS = {
    a = { value = 10, increment = 1, minimum = 0, min_parity = 1, flag = true },
    b = { value = 7.5, increment = 2.5, minimum = -2.5, min_parity = 0 },
}
M.PLAN_NAMES = { "a", "b" }

M.ENTS = {} -- ordered entitlement names (all plans), plus "flag" and "nope"
M.PLANS = {} -- plan -> ent -> limit spec, or true for a flag
do
    local lines = { "policy:", "  credits:", "    unit: {}", "  plans:" }
    for _, mode in ipairs(M.MODES) do
        for _, r in ipairs(M.RESETS) do M.ENTS[#M.ENTS + 1] = mode .. "_" .. r.key end
    end
    for _, pname in ipairs(M.PLAN_NAMES) do
        local def = M.PLAN_DEFS[pname]
        local plan = {}
        M.PLANS[pname] = plan
        lines[#lines + 1] = "    " .. pname .. ":"
        lines[#lines + 1] = "      entitlements:"
        local i = 0
        for _, mode in ipairs(M.MODES) do
            for _, r in ipairs(M.RESETS) do
                i = i + 1
                local name = mode .. "_" .. r.key
                local lim = { mode = mode, value = def.value, increment = def.increment,
                              inc = r.inc, sch = r.sch }
                if r.key ~= "none" and not r.sch and not r.inc then lim.inc = 30 * DAY end
                local parts = { "credit: unit", "mode: " .. mode, "value: " .. def.value,
                                "increment: " .. def.increment }
                if i % 2 == def.min_parity then
                    lim.minimum = def.minimum
                    parts[#parts + 1] = "minimum: " .. def.minimum
                end
                if r.key ~= "none" then
                    parts[#parts + 1] = "resets: true"
                    if r.sch then parts[#parts + 1] = 'reset_sch: "' .. r.sch .. '"' end
                    if r.yaml and r.yaml ~= "" then parts[#parts + 1] = r.yaml end
                end
                plan[name] = lim
                lines[#lines + 1] = "        " .. name .. ": {limit: {" .. table.concat(parts, ", ") .. "}}"
            end
        end
        if def.flag then
            plan.flag = true
            lines[#lines + 1] = "        flag: {}"
        end
    end
    M.ENTS[#M.ENTS + 1] = "flag"
    M.ENTS[#M.ENTS + 1] = "nope"
    M.POLICY = table.concat(lines, "\n") .. "\n"
end

-- ---- Calendar, the naive way ----

local function is_leap(y) return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) end
local MONTH_DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local function month_len(y, m)
    if m == 2 and is_leap(y) then return 29 end
    return MONTH_DAYS[m]
end
M.month_len = month_len

-- os.date wday: 1 = Sunday.
local WDAY = { sun = 1, mon = 2, tue = 3, wed = 4, thu = 5, fri = 6, sat = 7,
               sunday = 1, monday = 2, tuesday = 3, wednesday = 4, thursday = 5,
               friday = 6, saturday = 7 }

-- Is the day number `day` (days since 1970-01-01) a boundary day of `sch`?
local function boundary_day(sch, day)
    local t = os.date("!*t", day * 86400)
    local y, m, d, wd = t.year, t.month, t.day, t.wday
    local ml = month_len(y, m)
    local n = sch:match("^monthly:(%d+)$")
    if n then return d == math.min(tonumber(n), ml) end
    if sch == "monthly:last" then return d == ml end
    local w = sch:match("^weekly:(%a+)$")
    if w then return wd == WDAY[w:lower()] end
    n = sch:match("^quarterly:(%d+)$")
    if n then return (m == 1 or m == 4 or m == 7 or m == 10) and d == math.min(tonumber(n), ml) end
    local mm, dd = sch:match("^yearly:(%d+)-(%d+)$")
    if mm then return m == tonumber(mm) and d == math.min(tonumber(dd), ml) end
    local k
    k, w = sch:match("^nth_weekday:(%d+):(%a+)$")
    if k then return wd == WDAY[w:lower()] and math.floor((d - 1) / 7) + 1 == tonumber(k) end
    error("model: unknown schedule " .. sch)
end

local memo = {} -- sch -> day -> boolean
local function is_boundary(sch, day)
    local by_day = memo[sch]
    if by_day == nil then
        by_day = {}
        memo[sch] = by_day
    end
    local v = by_day[day]
    if v == nil then
        v = boundary_day(sch, day)
        by_day[day] = v
    end
    return v
end

-- Latest boundary <= t (ms): walk back from t's day.
local start_memo = {} -- sch -> day -> boundary day
function M.cal_start(sch, t)
    local today = math.floor(t / DAY)
    local by_day = start_memo[sch]
    if by_day == nil then
        by_day = {}
        start_memo[sch] = by_day
    end
    -- start(day) = day if day is a boundary, else start(day - 1)
    local d = today
    while by_day[d] == nil and not is_boundary(sch, d) do d = d - 1 end
    local b = by_day[d] or d
    for x = d, today do by_day[x] = b end
    return b * DAY
end

-- Earliest boundary > t (ms): walk forward from the day after t's day.
local next_memo = {}
function M.cal_next(sch, t)
    local today = math.floor(t / DAY)
    local by_day = next_memo[sch]
    if by_day == nil then
        by_day = {}
        next_memo[sch] = by_day
    end
    -- next(day) = day + 1 if day + 1 is a boundary, else next(day + 1)
    local d = today
    while by_day[d] == nil and not is_boundary(sch, d + 1) do d = d + 1 end
    local b = by_day[d] or d + 1
    for x = today, d do by_day[x] = b end
    return b * DAY
end

-- A number as text, the same for 3 and 3.0 (engine reads give integers).
local function num(x)
    if x == nil then return "nil" end
    if x == math.floor(x) and math.abs(x) < 2^53 then return string.format("%d", x) end
    return string.format("%.17g", x)
end
M.num = num

-- ---- The model ----

local Model = {}
Model.__index = Model

function M.new(now)
    return setmetatable({ now = now, customers = {} }, Model)
end

function Model:set_time(t) self.now = t end
function Model:advance(ms) self.now = self.now + ms end

-- Start of the period containing now for meter m under limit lim, or nil
-- when the limit does not reset. A meter started after now stays put.
local function current_start(lim, m, now)
    if lim.inc then
        if now < m.started then return m.started end
        local k = math.floor((now - m.started) / lim.inc)
        return m.started + k * lim.inc
    elseif lim.sch then
        local s = M.cal_start(lim.sch, now)
        if m.started < s then return s end
        return m.started
    end
    return nil
end

-- The meter as a read sees it: value, current period start, rolling?
local function view(lim, m, now)
    local s = current_start(lim, m, now)
    if s ~= nil and s ~= m.started then return 0, s, true end
    return m.value, m.started, false
end

function Model:create(id, plan)
    local c = self.customers[id]
    if c == nil then
        c = { plan = plan, created = self.now, meters = {} }
        for ent, lim in pairs(M.PLANS[plan]) do
            if lim ~= true then c.meters[ent] = { started = self.now, value = 0 } end
        end
        self.customers[id] = c
    end
    return true, { "customer-set" }
end

function Model:delete(id)
    if self.customers[id] == nil then return false, {} end
    self.customers[id] = nil
    return true, { "customer-removed" }
end

-- Looks up (id, ent): returns customer, limit (or true for a flag), or
-- nil, reason.
function Model:lookup(id, ent)
    local c = self.customers[id]
    if c == nil then return nil, "unknown_customer" end
    local lim = M.PLANS[c.plan][ent]
    if lim == nil then return nil, "unknown_entitlement" end
    return c, lim
end

-- allow (commit = true) / check (commit = false). step = +1 / -1 for
-- increment / decrement (value ignored). Returns ok, reason, events where
-- events is a list of strings (name and the payload fields compared).
function Model:call(id, ent, value, commit, step)
    local c, lim = self:lookup(id, ent)
    if c == nil then return false, lim, {} end
    if lim == true then
        if step then return false, "not_metered", {} end
        return true, nil, {}
    end
    if step then value = step * lim.increment end
    local m = c.meters[ent]
    local events = {}
    local old, start, rolling = view(lim, m, self.now)
    if rolling and commit then
        -- gate 4: persisted by allow even when the call is then denied
        events[1] = string.format("meter-reset previous_value=%s period_start=%s", num(m.value), num(start))
        m.started, m.value = start, 0
    end
    local new = old + value
    if lim.minimum ~= nil and new < lim.minimum then new = lim.minimum end
    local fits, overage = true, 0
    if new > old then
        if lim.mode == "hard" then
            fits = new <= lim.value
        elseif lim.mode == "soft" then
            overage = math.max(0, new - math.max(old, lim.value))
        end
    end
    if not fits then
        if commit then
            events[#events + 1] = string.format("meter-limit value=%s invalid_value=%s overage=%s",
                num(old), num(new), num(new - math.max(old, lim.value)))
        end
        return false, "limit", events
    end
    if commit then
        m.value = new
        if new ~= old then
            local name = overage > 0 and "meter-overage" or "meter-changed"
            events[#events + 1] = string.format("%s old=%s value=%s diff=%s%s", name, num(old), num(new),
                num(value), overage > 0 and (" overage=" .. num(overage)) or "")
        end
    end
    return true, nil, events
end

-- value(), remaining(), resets() as the engine's reads should give them.
function Model:reads(id, ent)
    local c, lim = self:lookup(id, ent)
    if c == nil then return nil, nil, nil end
    if lim == true then return 0, nil, nil end
    local m = c.meters[ent]
    local v, start = view(lim, m, self.now)
    local remaining = lim.mode ~= "observe" and lim.value - v or nil
    local resets
    if lim.inc then
        resets = start + lim.inc
    elseif lim.sch then
        resets = M.cal_next(lim.sch, self.now)
    end
    return v, remaining, resets
end

-- Current-period meter view for the snapshot: value, started.
function Model:meter_view(id, ent)
    local c, lim = self:lookup(id, ent)
    if c == nil or lim == true then return nil end
    local v, start = view(lim, c.meters[ent], self.now)
    return v, start
end

return M
