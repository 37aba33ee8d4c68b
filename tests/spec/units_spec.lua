-- Units (docs/engine.md 1.3, 4.10, 14.7; docs/policy.md section 11 and its
-- section 13 messages): load-time conversion into the credit's units,
-- call-time unit strings, and every bad value.
local H = require "helpers"

local POLICY = [[
policy:
  credits:
    storage: {units: MB}
    compute: {units: s}
    bytes: {units: B}
    seat: {}
  plans:
    p:
      entitlements:
        disk: {limit: {credit: storage, value: 1GB, increment: 250 MB, minimum: 0}}
        disk_bin: {limit: {credit: storage, value: 1GiB}}
        cpu: {limit: {credit: compute, value: 90min, increment: '1.5h'}}
        raw: {limit: {credit: bytes, value: 2KiB}}
        seats: {limit: {credit: seat, value: "100_000"}}
        cpu_reset: {limit: {credit: compute, value: 60, resets: true, reset_inc: 1day}}
]]

local function engine()
    return H.engine(POLICY, 0, "c", "p")
end

local recorder = H.recorder

describe("load-time conversion (docs/policy.md 11 rule 2)", function()
    it("converts unit strings into the credit's units", function()
        local e = engine()
        assert.are.equal(1000, e:limit("c", "disk"))
        assert.are.equal(250, e:cost("c", "disk"))
        assert.are.equal(1073.741824, e:limit("c", "disk_bin"))
        assert.are.equal(5400, e:limit("c", "cpu"))
        assert.are.equal(5400, e:cost("c", "cpu"))
        assert.are.equal(2048, e:limit("c", "raw"))
        assert.are.equal(100000, e:limit("c", "seats"))
        assert.are.equal(1000, e:limit("p", "disk")) -- limit and cost take a plan name
        assert.are.equal(250, e:cost("p", "disk"))
        if math.type then -- Lua 5.4; LuaJIT has no integer subtype
            assert.is_true(math.type(e:limit("c", "disk")) == "integer")
        end
    end)

    it("converts durations in duration fields to ms", function()
        local e = engine()
        assert.are.equal(86400000, e:resets("c", "cpu_reset"))
    end)

    it("increments by the converted increment", function()
        local e = engine()
        assert.is_true(e:increment("c", "disk"))
        assert.is_true(e:increment("c", "disk"))
        assert.are.equal(500, e:value("c", "disk"))
        assert.are.equal(50, e:value("c", "disk", { percent = true }))
        assert.is_true(e:decrement("c", "disk"))
        assert.are.equal(250, e:value("c", "disk"))
    end)
end)

describe("call-time unit strings", function()
    it("converts a value into the credit's units", function()
        local e = engine()
        local seen = recorder(e)
        assert.is_true(e:allow("c", "disk", "500MB"))
        assert.are.equal(500, e:value("c", "disk"))
        assert.are.equal(500, seen[1].ev.meter.diff)
        assert.is_true(e:allow("c", "disk", "0.25 GB"))
        assert.are.equal(750, e:value("c", "disk"))
        assert.is_true(e:allow("c", "disk", "250000kB"))
        assert.are.equal(1000, e:value("c", "disk"))
        assert.are.same({ false, "limit" }, { e:allow("c", "disk", "1B") })
        assert.are.equal(1000.000001, seen[#seen].ev.invalid_value)
        assert.is_true(e:allow("c", "disk", "-1GB"))
        assert.are.equal(0, e:value("c", "disk"))
    end)

    it("converts binary sizes and durations, with aliases", function()
        local e = engine()
        assert.is_true(e:allow("c", "disk_bin", "1MiB"))
        assert.are.equal(1.048576, e:value("c", "disk_bin"))
        assert.is_true(e:allow("c", "cpu", "90min"))
        assert.are.equal(5400, e:value("c", "cpu"))
        e = engine()
        assert.is_true(e:allow("c", "cpu", "1h"))
        assert.is_true(e:allow("c", "cpu", "1500ms"))
        assert.is_true(e:allow("c", "cpu", "2 seconds"))
        assert.is_true(e:allow("c", "cpu", "1 minute"))
        assert.are.equal(3600 + 1.5 + 2 + 60, e:value("c", "cpu"))
        assert.are.same({ false, "limit" }, { e:allow("c", "cpu", "0.5h") })
        assert.is_true(e:allow("c", "raw", "1KiB"))
        assert.is_true(e:allow("c", "raw", "24 bytes"))
        assert.are.equal(1048, e:value("c", "raw"))
    end)

    it("check and explain convert the same way", function()
        local e = engine()
        assert.is_true(e:check("c", "disk", "1GB"))
        assert.are.same({ false, "limit" }, { e:check("c", "disk", "1001MB") })
        local x = e:explain("c", "disk", "1001MB")
        assert.is_false(x.allowed)
        assert.are.equal("limit", x.gate)
        assert.are.equal("limit", x.reason)
        assert.are.equal(0, e:value("c", "disk"))
    end)

    it("takes numeric strings, with _ separators, as plain numbers", function()
        local e = engine()
        assert.is_true(e:allow("c", "seats", "2"))
        assert.is_true(e:allow("c", "seats", "1_000"))
        assert.is_true(e:allow("c", "seats", "0.5"))
        assert.are.equal(1002.5, e:value("c", "seats"))
        assert.is_true(e:allow("c", "disk", "12"))
        assert.are.equal(12, e:value("c", "disk"))
    end)
end)

describe("bad call-time values (docs/engine.md 14.7)", function()
    it("denies a wrong dimension with invalid_value, no event, no roll-over", function()
        local e = engine()
        e:allow("c", "cpu_reset", 10)
        e:set_time(86400000 + 1) -- a roll-over is pending
        local seen = recorder(e)
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "cpu_reset", "2GB") })
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "disk", "2h") })
        assert.are.same({ false, "invalid_value" }, { e:check("c", "disk", "2h") })
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "seats", "5GB") }) -- credit without units
        assert.are.equal(0, #seen)
        assert.are.equal(0, e:value("c", "disk"))
        assert.is_true(e:allow("c", "cpu_reset", 1))
        assert.are.equal("meter-reset", seen[1].name) -- the denial persisted nothing
        assert.are.equal(10, seen[1].ev.previous_value)
    end)

    it("denies strings that are not numbers or unit strings", function()
        local e = engine()
        local seen = recorder(e)
        for _, s in ipairs({ "ten", "", " ", "GB", "5 GBs", "10mb", "1e", "--1", "1__0", "_1", "1,5",
                             "Mb", "5 Mb" }) do
            assert.are.same({ false, "invalid_value" }, { e:allow("c", "disk", s) }, "'" .. s .. "'")
            assert.are.same({ false, "invalid_value" }, { e:check("c", "disk", s) }, "'" .. s .. "'")
        end
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "disk", math.huge) })
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "disk", -math.huge) })
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "disk", 0 / 0) })
        assert.are.equal(0, #seen)
        assert.are.equal(0, e:value("c", "disk"))
    end)

    it("catches a string that is no number before any gate (docs/engine.md 14.7)", function()
        local e = engine()
        assert.are.same({ false, "invalid_value" }, { e:allow("nobody", "disk", "ten") })
        assert.are.same({ false, "invalid_value" }, { e:check("nobody", "disk", "ten") })
        assert.are.same({ false, "invalid_value" }, { e:allow("c", "nope", "ten") })
        assert.are.same({ false, "invalid_value" }, { e:allow("nobody", "disk", 0 / 0) })
    end)

    it("explain reports a bad value at gate 'value'", function()
        local e = engine()
        local x = e:explain("c", "disk", "2h")
        assert.is_false(x.allowed)
        assert.are.equal("value", x.gate)
        assert.are.equal("invalid_value", x.reason)
        x = e:explain("c", "disk", "ten")
        assert.are.equal("value", x.gate)
        assert.are.equal("invalid_value", x.reason)
    end)

    it("raises for values of the wrong Lua type", function()
        local e = engine()
        assert.has_error(function() e:allow("c", "disk", {}) end)
        assert.has_error(function() e:allow("c", "disk", true) end)
        assert.has_error(function() e:check("c", "disk", {}) end)
        assert.has_error(function() e:check("c", "disk", false) end)
        assert.has_error(function() e:explain("c", "disk", {}) end)
        assert.are.equal(0, e:value("c", "disk"))
    end)
end)

describe("unit errors at load time (docs/policy.md 11, 13)", function()
    local function load(credits, limit)
        return H.load_limit(limit, credits)
    end
    local P = "plans.p.entitlements.e.limit"
    -- "at 7:<column of needle in the limit line>"
    local function at(limit, needle)
        return (" at 7:%d"):format(#"          limit: " + limit:find(needle, 1, true))
    end

    it("rejects a duration on a data credit", function()
        local L = "{credit: storage, value: '2h'}"
        local _, err = load("{storage: {units: MB}}", L)
        assert.are.equal(P .. ".value: '2h' is a duration but credit 'storage' is measured in MB" .. at(L, "'2h'"), err)
    end)

    it("rejects a unit on a credit without units", function()
        local L = "{credit: seat, value: 5GB}"
        local _, err = load("{seat: {}}", L)
        assert.are.equal(P .. ".value: '5GB' has a unit but credit 'seat' has no units" .. at(L, "5GB"), err)
    end)

    it("rejects unknown units with a suggestion, and bare units", function()
        local L = "{credit: storage, value: '5 Mb'}"
        local _, err = load("{storage: {units: MB}}", L)
        assert.are.equal(P .. ".value: unknown unit 'Mb' (did you mean 'MB'?)" .. at(L, "'5 Mb'"), err)
        L = "{credit: storage, value: 10mb}"
        _, err = load("{storage: {units: MB}}", L)
        assert.are.equal(P .. ".value: unknown unit 'mb' (did you mean 'MB'?)" .. at(L, "10mb"), err)
        L = "{credit: storage, value: 5 GBs}"
        _, err = load("{storage: {units: MB}}", L)
        assert.are.equal(P .. ".value: unknown unit 'GBs' (did you mean 'GB'?)" .. at(L, "5 GBs"), err)
        L = "{credit: storage, value: GB}"
        _, err = load("{storage: {units: MB}}", L)
        assert.are.equal(P .. ".value: expected a number with an optional unit, got 'GB'" .. at(L, "GB}"), err)
    end)

    it("checks increment, minimum and governor_capacity the same way", function()
        local L = "{credit: storage, value: 1GB, increment: 1h}"
        local _, err = load("{storage: {units: MB}}", L)
        assert.are.equal(P .. ".increment: '1h' is a duration but credit 'storage' is measured in MB" .. at(L, "1h"),
            err)
        L = "{credit: storage, value: 1GB, minimum: 1s}"
        _, err = load("{storage: {units: MB}}", L)
        assert.are.equal(P .. ".minimum: '1s' is a duration but credit 'storage' is measured in MB" .. at(L, "1s"), err)
        L = "{credit: compute, value: 1h, governor_enabled: true, governor_capacity: 1GB, governor_refill_rate: 1}"
        _, err = load("{compute: {units: s}}", L)
        -- one problem, one line: a present but invalid capacity is not also "missing"
        assert.is_nil(err:find("\n"), err)
        assert.are.equal(P .. ".governor_capacity: '1GB' is a size but credit 'compute' is measured in s" ..
            at(L, "1GB"), err)
    end)

    it("rejects an unknown units symbol on a credit", function()
        local e, err = load("{storage: {units: Mb}}", "{credit: storage, value: 1}")
        assert.is_nil(e)
        assert.are.equal("credits.storage.units: unknown unit 'Mb' (did you mean 'MB'?) at 2:30", err)
    end)

    it("compares the minimum with the value after conversion", function()
        local e, err = load("{storage: {units: MB}}", "{credit: storage, value: 1GB, minimum: 2GB}")
        assert.is_nil(e)
        assert.matches("^" .. P:gsub("%.", "%%.") .. ": minimum 2000 is above value 1000 at 7:%d+$", err)
    end)
end)
