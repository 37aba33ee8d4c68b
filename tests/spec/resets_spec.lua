-- Periods and resets (docs/engine.md section 5, 4.2 gate 4, 13.4, 14.11;
-- docs/policy.md section 12 and the schedule rules of section 13).
local H = require "helpers"

-- ms since the epoch of a UTC date and time.
-- (math.floor(a / b), not a // b: the specs also run under LuaJIT)
local function utc(y, m, d, h, mi, s)
    local yy = m <= 2 and y - 1 or y
    local era = math.floor(yy / 400)
    local yoe = yy - era * 400
    local doy = math.floor((153 * (m > 2 and m - 3 or m + 9) + 2) / 5) + d - 1
    local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
    local days = era * 146097 + doe - 719468
    return ((days * 24 + (h or 0)) * 60 + (mi or 0)) * 60000 + (s or 0) * 1000
end

local DAY = 86400000

-- An engine with one entitlement `api` of the given limit fields.
local function engine_with(limit_fields)
    return H.engine(([[
policy:
  credits: {request: {}}
  plans:
    p:
      entitlements:
        api: {limit: {credit: request, value: 100, %s}}
        flag: {}
        plain: {limit: {credit: request, value: 100}}
]]):format(limit_fields))
end

local function recorder(e)
    return H.recorder(e, "^meter")
end

local names = H.names

describe("monthly:31 across February (docs/engine.md 13.4)", function()
    local function setup()
        local e = engine_with("resets: true, reset_sch: 'monthly:31'")
        e:set_time(1736510400000) -- 2025-01-10T12:00Z
        e:create_customer("c", "p")
        return e
    end

    it("gives the exact boundaries and the meter-reset payload", function()
        local e = setup()
        assert.are.equal(1736510400000, utc(2025, 1, 10, 12))
        assert.are.equal(1738281600000, e:resets("c", "api"))
        assert.are.equal(1736510400000, e:customer("c").meters.api.started)
        e:set_time(utc(2025, 1, 20))
        assert.is_true(e:allow("c", "api", 60))
        assert.are.equal(1738281600000, e:resets("c", "api"))

        e:set_time(1738281600000) -- the boundary instant belongs to the new period
        assert.are.equal(0, e:value("c", "api"))
        assert.are.equal(100, e:remaining("c", "api"))
        assert.are.equal(0, e:customer("c").meters.api.value)
        assert.are.equal(1740700800000, e:resets("c", "api"))

        e:set_time(1738713600000) -- Feb 5
        assert.are.equal(0, e:value("c", "api"))
        local seen = recorder(e)
        assert.is_true(e:allow("c", "api", 10))
        assert.are.same({ "meter-reset", "meter-changed" }, names(seen))
        local reset = seen[1].ev
        assert.are.equal(60, reset.previous_value)
        assert.are.equal(1738281600000, reset.period_start)
        assert.are.same({ old = 0, value = 10, limit = 100, diff = 10, overhead = 0, overhead_diff = 0 },
            reset.meter)
        assert.are.equal(90, reset.remaining)
        assert.are.equal("api", reset.entitlement)
        assert.are.equal("c", reset.customer.id)
        local changed = seen[2].ev
        assert.are.same({ old = 0, value = 10, limit = 100, diff = 10, overhead = 0, overhead_diff = 0 },
            changed.meter)
        assert.are.equal(90, changed.remaining)
        assert.are.equal(1738281600000, e:customer("c").meters.api.started)
        assert.are.equal(1740700800000, e:resets("c", "api")) -- 2025-02-28
        e:set_time(1740700800000)
        assert.are.equal(1743379200000, e:resets("c", "api")) -- 2025-03-31
        assert.are.equal(0, e:value("c", "api"))
    end)

    it("rolls once after idle time from Feb 5 to Apr 15", function()
        local e = setup()
        e:set_time(1738713600000)
        assert.is_true(e:allow("c", "api", 10))
        e:set_time(1744675200000) -- 2025-04-15
        local seen = recorder(e)
        assert.is_true(e:allow("c", "api", 1))
        assert.are.same({ "meter-reset", "meter-changed" }, names(seen))
        assert.are.equal(10, seen[1].ev.previous_value)
        assert.are.equal(1743379200000, seen[1].ev.period_start)
        assert.are.equal(1743379200000, e:customer("c").meters.api.started)
        assert.are.equal(1745971200000, e:resets("c", "api"))
        assert.are.equal(1, e:value("c", "api"))
    end)

    it("uses Feb 29 in 2024", function()
        local e = engine_with("resets: true, reset_sch: 'monthly:31'")
        e:set_time(utc(2024, 2, 5))
        e:create_customer("c", "p")
        assert.are.equal(1709164800000, e:resets("c", "api"))
        e:set_time(1709164800000 - 1)
        assert.are.equal(1709164800000, e:resets("c", "api"))
        e:set_time(1709164800000)
        assert.are.equal(utc(2024, 3, 31), e:resets("c", "api"))
    end)
end)

describe("interval resets (docs/policy.md 12)", function()
    it("rolls once however many periods passed, anchored at the meter's start", function()
        local e = engine_with("resets: true, reset_inc: 1day")
        local A = utc(2026, 3, 1)
        e:set_time(A)
        e:create_customer("c", "p")
        assert.are.equal(A + DAY, e:resets("c", "api"))
        assert.is_true(e:allow("c", "api", 40))
        e:set_time(utc(2026, 3, 10, 12))
        assert.are.equal(0, e:value("c", "api"))
        assert.are.equal(utc(2026, 3, 11), e:resets("c", "api"))
        local seen = recorder(e)
        assert.is_true(e:allow("c", "api", 5))
        assert.are.same({ "meter-reset", "meter-changed" }, names(seen))
        assert.are.equal(40, seen[1].ev.previous_value)
        assert.are.equal(utc(2026, 3, 10), seen[1].ev.period_start)
        assert.are.equal(utc(2026, 3, 10), e:customer("c").meters.api.started)
        assert.are.equal(utc(2026, 3, 11), e:resets("c", "api"))
    end)

    it("puts the boundary instant in the new period", function()
        local e = engine_with("resets: true, reset_inc: 1day")
        e:set_time(1000)
        e:create_customer("c", "p")
        e:allow("c", "api", 30)
        e:set_time(1000 + DAY - 1)
        assert.are.equal(30, e:value("c", "api"))
        assert.are.equal(1000 + DAY, e:resets("c", "api"))
        e:set_time(1000 + DAY)
        assert.are.equal(0, e:value("c", "api"))
        assert.are.equal(1000 + 2 * DAY, e:resets("c", "api"))
    end)

    it("defaults to 30 days when resets has neither reset_inc nor reset_sch", function()
        local e = engine_with("resets: true")
        e:set_time(5000)
        e:create_customer("c", "p")
        assert.are.equal(5000 + 2592000000, e:resets("c", "api"))
        e:allow("c", "api", 9)
        e:set_time(5000 + 2592000000 - 1)
        assert.are.equal(9, e:value("c", "api"))
        e:set_time(5000 + 2592000000)
        assert.are.equal(0, e:value("c", "api"))
    end)

    it("takes reset_inc as plain ms or any duration unit", function()
        local e = engine_with("resets: true, reset_inc: '1.5h'")
        e:set_time(0)
        e:create_customer("c", "p")
        assert.are.equal(5400000, e:resets("c", "api"))
        e = engine_with("resets: true, reset_inc: 600000")
        e:set_time(0)
        e:create_customer("c", "p")
        assert.are.equal(600000, e:resets("c", "api"))
        e = engine_with("resets: true, reset_inc: '10 minutes'")
        e:set_time(7)
        e:create_customer("c", "p")
        assert.are.equal(600007, e:resets("c", "api"))
    end)

    it("gives nil for a limit that does not reset and for flags", function()
        local e = engine_with("resets: true")
        e:create_customer("c", "p")
        assert.is_nil(e:resets("c", "plain"))
        assert.is_nil(e:resets("c", "flag"))
        assert.is_nil(e:resets("c", "nope"))
        assert.is_nil(e:resets("nobody", "api"))
    end)
end)

describe("roll-over persistence (docs/engine.md 4.2, 5.5, 5.6)", function()
    local function rolled()
        local e = engine_with("resets: true, reset_inc: 1day")
        e:set_time(0)
        e:create_customer("c", "p")
        e:allow("c", "api", 70)
        e:set_time(DAY + 5)
        return e
    end

    it("reads see the current period before allow persists it", function()
        local e = rolled()
        assert.are.equal(0, e:value("c", "api"))
        assert.are.equal(100, e:remaining("c", "api"))
        assert.are.equal(0, e:value("c", "api", { percent = true }))
        assert.are.equal(100, e:remaining("c", "api", { percent = true }))
        assert.are.equal(100, e:allowance("c", "api"))
        assert.are.equal(0, e:rate("c", "api"))
        assert.are.equal(0, e:acceleration("c", "api"))
        assert.is_nil(e:projected_exhaustion("c", "api"))
        local m = e:customer("c").meters.api
        assert.are.equal(0, m.value)
        assert.are.equal(100, m.remaining)
        assert.is_true(e:check("c", "api", 100))
        local x = e:explain("c", "api", 100)
        assert.is_true(x.allowed)
        assert.are.equal(0, x.value)
        assert.are.equal(100, x.remaining)
    end)

    it("check, explain and reads never persist the roll-over", function()
        local e = rolled()
        e:value("c", "api")
        e:remaining("c", "api")
        e:check("c", "api", 5)
        e:explain("c", "api", 5)
        e:customer("c")
        e:resets("c", "api")
        e:allowance("c", "api")
        local seen = recorder(e)
        assert.is_true(e:allow("c", "api", 1))
        assert.are.same({ "meter-reset", "meter-changed" }, names(seen))
        assert.are.equal(70, seen[1].ev.previous_value)
        assert.are.equal(DAY, seen[1].ev.period_start)
    end)

    it("allow persists it even when denied, and fires meter-reset first", function()
        local e = rolled()
        local seen = recorder(e)
        assert.are.same({ false, "limit" }, { e:allow("c", "api", 101) })
        assert.are.same({ "meter-reset", "meter-limit" }, names(seen))
        assert.are.equal(70, seen[1].ev.previous_value)
        assert.are.equal(DAY, seen[1].ev.period_start)
        assert.are.equal(0, seen[2].ev.meter.value)
        assert.are.equal(101, seen[2].ev.invalid_value)
        assert.are.equal(DAY, e:customer("c").meters.api.started)
        assert.is_true(e:allow("c", "api", 1))
        assert.are.same({ "meter-reset", "meter-limit", "meter-changed" }, names(seen))
        assert.are.equal(1, e:value("c", "api"))
    end)

    it("a no-op allow that rolls fires meter-reset alone, with diff 0", function()
        local e = rolled()
        local seen = recorder(e)
        assert.is_true(e:allow("c", "api", 0))
        assert.are.same({ "meter-reset" }, names(seen))
        assert.are.equal(0, seen[1].ev.meter.diff)
        assert.are.equal(0, seen[1].ev.meter.value)
        assert.are.equal(70, seen[1].ev.previous_value)
        assert.is_true(e:allow("c", "api", 0))
        assert.are.equal(1, #seen)
    end)

    it("an invalid value persists no roll-over and fires nothing", function()
        local e = rolled()
        local seen = recorder(e)
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "api", "ten") })
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "api", 0 / 0) })
        assert.are.equal(0, #seen)
        assert.is_true(e:allow("c", "api", 1))
        assert.are.same({ "meter-reset", "meter-changed" }, names(seen))
        assert.are.equal(70, seen[1].ev.previous_value)
    end)

    it("with events off, the roll-over is persisted silently", function()
        local e = rolled()
        local seen = recorder(e)
        assert.is_true(e:allow("c", "api", 3, { event = false }))
        assert.are.equal(0, #seen)
        assert.is_true(e:allow("c", "api", 1))
        assert.are.same({ "meter-changed" }, names(seen))
        assert.are.equal(4, e:value("c", "api"))
    end)
end)

describe("time going backwards (docs/engine.md 14.11)", function()
    it("does not roll a meter whose start is after now; forward moves behave normally", function()
        local e = engine_with("resets: true, reset_inc: 1day")
        local T = utc(2026, 1, 1)
        e:set_time(T)
        e:create_customer("c", "p")
        e:allow("c", "api", 20)
        e:set_time(T - 10 * DAY)
        assert.are.equal(20, e:value("c", "api"))
        assert.are.equal(T + DAY, e:resets("c", "api"))
        local seen = recorder(e)
        assert.is_true(e:allow("c", "api", 5))
        assert.are.same({ "meter-changed" }, names(seen))
        assert.are.equal(25, e:value("c", "api"))
        assert.are.equal(T, e:customer("c").meters.api.started)
        e:set_time(T + DAY)
        assert.are.equal(0, e:value("c", "api"))
        assert.is_true(e:allow("c", "api", 1))
        assert.are.same({ "meter-changed", "meter-reset", "meter-changed" }, names(seen))
        assert.are.equal(25, seen[2].ev.previous_value)
        assert.are.equal(T + DAY, seen[2].ev.period_start)
    end)
end)

describe("calendar schedules through resets() (docs/policy.md 12)", function()
    local t = 1773144000000 -- 2026-03-10T12:00Z, a Tuesday

    -- Creates a customer at `created`, moves to `now`, returns next reset and
    -- the period start the first allow reports.
    local function at(schedule, now, created)
        local e = engine_with(("resets: true, reset_sch: '%s'"):format(schedule))
        e:set_time(created or utc(2025, 6, 1))
        e:create_customer("c", "p")
        e:allow("c", "api", 1)
        e:set_time(now)
        local next_reset = e:resets("c", "api")
        local start
        e:on("meter-reset", function(ev) start = ev.period_start end)
        e:allow("c", "api", 1)
        return next_reset, start
    end

    it("matches the worked values at 2026-03-10T12:00Z", function()
        assert.are.equal(1773144000000, utc(2026, 3, 10, 12))
        local cases = {
            { "monthly:15", 1771113600000, 1773532800000 },
            { "monthly:last", utc(2026, 2, 28), utc(2026, 3, 31) },
            { "weekly:mon", 1773014400000, 1773619200000 },
            { "nth_weekday:2:tue", utc(2026, 3, 10), 1776124800000 },
            { "nth_weekday:3:tue", utc(2026, 2, 17), utc(2026, 3, 17) },
            { "quarterly:1", utc(2026, 1, 1), utc(2026, 4, 1) },
            { "yearly:3-10", utc(2026, 3, 10), utc(2027, 3, 10) },
        }
        for _, c in ipairs(cases) do
            local next_reset, start = at(c[1], t)
            assert.are.equal(c[3], next_reset, c[1] .. " next reset")
            assert.are.equal(c[2], start, c[1] .. " period start")
        end
    end)

    it("accepts full weekday names, any case, and leading zeros", function()
        for _, s in ipairs({ "weekly:monday", "weekly:Monday", "weekly:MON" }) do
            assert.are.equal(1773619200000, (at(s, t)), s)
        end
        assert.are.equal(1773532800000, (at("monthly:015", t)))
        assert.are.equal(utc(2026, 3, 13), (at("weekly:fri", t)))
        assert.are.equal(utc(2026, 3, 15), (at("weekly:sunday", t)))
        assert.are.equal(utc(2026, 3, 11), (at("weekly:wed", t)))
        -- on the boundary day itself, the next reset is a week later
        assert.are.equal(utc(2026, 3, 17), (at("weekly:tue", t)))
    end)

    it("clamps each month on its own (monthly:29, 30, 31, last in 2026 and 2028)", function()
        local rows = {
            { "monthly:29", { 29, 28, 29, 29 }, { 29, 29, 29, 29 } },
            { "monthly:30", { 30, 28, 30, 30 }, { 30, 29, 30, 30 } },
            { "monthly:31", { 31, 28, 31, 30 }, { 31, 29, 31, 30 } },
            { "monthly:last", { 31, 28, 31, 30 }, { 31, 29, 31, 30 } },
        }
        for _, row in ipairs(rows) do
            for i, year in ipairs({ 2026, 2028 }) do
                local days = row[i + 1]
                for month = 1, 4 do
                    local got = at(row[1], utc(year, month, 1), utc(year - 1, 12, 1))
                    assert.are.equal(utc(year, month, days[month]), got,
                        ("%s from %d-%02d-01"):format(row[1], year, month))
                end
            end
        end
    end)

    it("steps monthly:31 from the clamped boundary, not the current month", function()
        local next_reset, start = at("monthly:31", utc(2026, 2, 10))
        assert.are.equal(utc(2026, 1, 31), start)
        assert.are.equal(utc(2026, 2, 28), next_reset)
        next_reset, start = at("monthly:31", utc(2026, 4, 10))
        assert.are.equal(utc(2026, 3, 31), start)
        assert.are.equal(utc(2026, 4, 30), next_reset)
    end)

    it("resets yearly:2-29 on Feb 29 in leap years, else Feb 28", function()
        local next_reset, start = at("yearly:2-29", utc(2027, 1, 10), utc(2025, 6, 1))
        assert.are.equal(utc(2026, 2, 28), start)
        assert.are.equal(utc(2027, 2, 28), next_reset)
        next_reset, start = at("yearly:2-29", utc(2028, 2, 28, 12), utc(2026, 6, 1))
        assert.are.equal(utc(2027, 2, 28), start)
        assert.are.equal(utc(2028, 2, 29), next_reset)
    end)

    it("resets quarterly:31 on Jan 31, Apr 30, Jul 31 and Oct 31", function()
        local from = utc(2025, 6, 1)
        assert.are.equal(utc(2026, 1, 31), (at("quarterly:31", utc(2026, 1, 5), from)))
        assert.are.equal(utc(2026, 4, 30), (at("quarterly:31", utc(2026, 2, 1), from)))
        assert.are.equal(utc(2026, 7, 31), (at("quarterly:31", utc(2026, 4, 30), from)))
        assert.are.equal(utc(2026, 10, 31), (at("quarterly:31", utc(2026, 8, 1), from)))
        assert.are.equal(utc(2027, 1, 31), (at("quarterly:31", utc(2026, 10, 31, 23, 59), from)))
    end)

    it("gives a meter created mid-period a short first period", function()
        local e = engine_with("resets: true, reset_sch: 'monthly:1'")
        e:set_time(utc(2026, 3, 20, 15))
        e:create_customer("c", "p")
        assert.are.equal(utc(2026, 4, 1), e:resets("c", "api"))
        e:allow("c", "api", 50)
        e:set_time(utc(2026, 4, 1) - 1)
        assert.are.equal(50, e:value("c", "api"))
        e:set_time(utc(2026, 4, 1))
        assert.are.equal(0, e:value("c", "api"))
        assert.are.equal(utc(2026, 5, 1), e:resets("c", "api"))
    end)
end)

describe("reset rules at load time (docs/policy.md 6, 13)", function()
    local function load(fields)
        return H.load_limit("{credit: r, value: 10, " .. fields .. "}", "{r: {}}")
    end
    local P = "plans.p.entitlements.e.limit"

    it("rejects reset_inc with reset_sch", function()
        local e, err = load("resets: true, reset_inc: 1day, reset_sch: 'monthly:1'")
        assert.is_nil(e)
        assert.matches("^" .. P:gsub("%.", "%%.") .. ": reset_inc and reset_sch are mutually exclusive at 7:%d+$", err)
    end)

    it("rejects reset_sch or reset_inc without resets: true", function()
        local _, err = load("reset_sch: 'monthly:1'")
        assert.matches("^" .. P:gsub("%.", "%%.") .. ": reset_sch is set but resets is not true at 7:%d+$", err)
        _, err = load("resets: false, reset_inc: 1day")
        assert.matches("^" .. P:gsub("%.", "%%.") .. ": reset_inc is set but resets is not true at 7:%d+$", err)
    end)

    it("reports schedule errors with the exact text and the value's position", function()
        local col = #"          limit: {credit: r, value: 10, resets: true, reset_sch: " + 1
        local cases = {
            { "montly:1", "invalid reset schedule 'montly:1': unknown kind 'montly' (did you mean 'monthly'?)" },
            { "monthly:32", "invalid reset schedule 'monthly:32': day must be 1-31" },
            { "monthly:0", "invalid reset schedule 'monthly:0': day must be 1-31" },
            { "nth_weekday:5:tue", "invalid reset schedule 'nth_weekday:5:tue': N must be 1-4" },
            { "nth_weekday:0:tue", "invalid reset schedule 'nth_weekday:0:tue': N must be 1-4" },
            { "weekly:moon", "invalid reset schedule 'weekly:moon': unknown weekday 'moon' (did you mean 'mon'?)" },
            { "yearly:2-30", "invalid reset schedule 'yearly:2-30': day 30 does not exist in month 2" },
            { "yearly:4-31", "invalid reset schedule 'yearly:4-31': day 31 does not exist in month 4" },
        }
        for _, c in ipairs(cases) do
            local e, err = load(("resets: true, reset_sch: '%s'"):format(c[1]))
            assert.is_nil(e, c[1])
            assert.are.equal(("%s.reset_sch: %s at 7:%d"):format(P, c[2], col), err)
        end
    end)

    it("refuses other malformed schedules", function()
        for _, s in ipairs({ "monthly", "monthly:", "monthly:1:2", "weekly:", "yearly:13-1", "yearly:0-1",
                             "quarterly:32", "quarterly:0", "Monthly:1", "monthly: 1", "monthly:-1",
                             "nth_weekday:2", "monthly:last:1", "" }) do
            local e, err = load(("resets: true, reset_sch: '%s'"):format(s))
            assert.is_nil(e, s)
            assert.matches("^" .. P:gsub("%.", "%%.") .. "%.reset_sch: ", err)
        end
    end)

    it("accepts every valid schedule form", function()
        for _, s in ipairs({ "monthly:1", "monthly:31", "monthly:last", "weekly:sun", "weekly:Thursday",
                             "nth_weekday:4:fri", "nth_weekday:1:MON", "yearly:2-29", "yearly:12-31",
                             "quarterly:31", "quarterly:01" }) do
            local e, err = load(("resets: true, reset_sch: '%s'"):format(s))
            assert.is_not_nil(e, s .. ": " .. tostring(err))
        end
    end)

    it("rejects bad reset_inc durations", function()
        local col = #"          limit: {credit: r, value: 10, resets: true, reset_inc: " + 1
        local _, err = load("resets: true, reset_inc: '0.5ms'")
        assert.are.equal(("%s.reset_inc: '0.5ms' is not a whole number of milliseconds at 7:%d"):format(P, col), err)
        _, err = load("resets: true, reset_inc: 0")
        assert.are.equal(("%s.reset_inc: must be greater than 0, got 0 at 7:%d"):format(P, col), err)
        _, err = load("resets: true, reset_inc: '1GB'")
        assert.matches("^" .. P:gsub("%.", "%%.") .. "%.reset_inc: .*1GB", err)
        _, err = load("resets: true, reset_inc: '1 mon'")
        assert.matches("^" .. P:gsub("%.", "%%.") .. "%.reset_inc: ", err)
    end)
end)
