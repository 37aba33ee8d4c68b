-- State documents from Lua (docs/state.md): export, import, their errors.
local limitr = require "limitr"
local H = require "helpers"

local POLICY = [[
policy:
  credits: {req: {}}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: req, value: 100, resets: true, reset_inc: 1day}}
]]
local T = 1774872000000 -- 2026-03-30T12:00Z
local DAY = 86400000

describe("export and import (docs/state.md)", function()
    it("carries a customer's usage to a fresh engine (the example of state.md)", function()
        local a = H.engine(POLICY, T, "f2", "free")
        assert.is_true(a:allow("f2", "api", 80))
        local text = a:export()
        assert.matches('^{"limitr_state":1,"policy":"sha256:%x+","now":1774872000000,', text)
        local b = H.engine(POLICY, T)
        local r = assert(b:import(text))
        assert.same({ customers = 1, warnings = {} }, r)
        assert.equals(text, b:export())
        assert.is_true(b:allow("f2", "api", 20))
        assert.same({ false, "limit" }, { b:allow("f2", "api", 1) })
        b:advance(DAY)
        assert.equals(0, b:value("f2", "api"))
    end)

    it("exports one customer, by ID or alt ID", function()
        local e = H.engine(POLICY, T, "a", "free")
        assert(e:create_customer("b", "free", { alt_ids = { "bee" } }))
        local one = e:export("bee")
        assert.matches('"customers":%[{"alt_ids":%["bee"%]', one)
        assert.is_nil(one:find('"id":"a"', 1, true))
        H.fails("unknown_customer", e:export("nobody"))
    end)

    it("refuses a bad document with its JSON path and changes nothing", function()
        local e = H.engine(POLICY, T, "u1", "free")
        assert.is_true(e:allow("u1", "api", 5))
        local before = e:export()
        local err = H.fails("invalid_state", e:import('{"limitr_state":1,"policy":"sha256:'
            .. ("0"):rep(64) .. '","now":1,"customers":[{"id":"x"},{"id":"u1"}]}'))
        assert.equals("$.customers[1].id: 'u1' already exists in this engine", err)
        H.fails("invalid_state", e:import("not json"))
        assert.has_error(function() e:import(42) end)
        assert.has_error(function() e:import("{}", 7) end)
        assert.equals(before, e:export())
    end)

    it("imports what the engine makes at the ends of its ranges", function()
        local P = POLICY:gsub("value: 100, resets: true, reset_inc: 1day", "value: 1e20, mode: observe")
        local a = H.engine(P, T, "u", "free")
        assert.is_true(a:allow("u", "api", 5e19, { overhead = 9e19 }))
        assert(a:add_customer_cap("u", 9e19))
        assert(a:add_customer_grant("u", { credit = "req", value = 9e19 }))
        -- a hold lives at most to the end of the clock's range
        assert(a:reserve("u", "api", 1, { ttl = 8.64e15 - T }))
        H.fails("invalid_argument", a:reserve("u", "api", 1, { ttl = 8.64e15 - T + 1000 }))
        local b = H.engine(P, T)
        assert(b:import(a:export()))
        assert.equals(a:export(), b:export())
    end)

    it("imports every digit it exports: 20 whole and 18 decimal ones", function()
        local P = [[
policy:
  exchange:
    euro: {value: 1.1, currency: usd}
  credits:
    token: {price: {amount: 0.01}}
    seat: {price: {amount: 2, currency: euro}}
  plans:
    free:
      default: true
      entitlements:
        chat: {limit: {credit: token, value: 0}}
]]
        local a = H.engine(P, T, "u", "free")
        assert(a:add_customer_grant("u", { credit = "seat", value = 1e20, id = "g" }))
        assert(a:allow("u", "chat", 2000)) -- 20 runes drawn from the seat grant
        local doc = a:export()
        assert.matches('"value":"99999999999999999990.909090909090909091"', doc, 1, true)
        local b = H.engine(P, T)
        assert(b:import(doc))
        assert.equals(doc, b:export())
    end)

    it("replaces everything with replace = true", function()
        local a = H.engine(POLICY, T, "x", "free")
        local b = H.engine(POLICY, T, "y", "free")
        assert(b:import(a:export(), { replace = true }))
        H.fails("unknown_customer", b:customer("y"))
        assert.equals(a:export(), b:export())
    end)

    it("keeps metadata a document can carry, and refuses deeper nesting", function()
        local e = H.engine(POLICY, T)
        local function nest(n) local t = 1; for _ = 1, n do t = { t } end; return t end
        assert(e:create_customer("ok", nil, { metadata = { n = 1, f = 1.5, list = { 1, 2 }, deep = nest(20) } }))
        H.fails("invalid_argument", e:create_customer("deep", nil, { metadata = nest(30) }))
        local b = H.engine(POLICY, T)
        assert(b:import(e:export()))
        assert.same(e:customer("ok").metadata, b:customer("ok").metadata)
        assert.equals(e:export(), b:export())
    end)

    it("converts amounts kept in other units of the same dimension (500 MB reads 0.5 GB)", function()
        local function P(units, value)
            return ([[
policy:
  credits: {storage: {units: %s}}
  plans:
    free:
      default: true
      entitlements:
        disk: {limit: {credit: storage, value: %s}}
]]):format(units, value)
        end
        local a = H.engine(P("MB", "2GB"), T, "f", "free")
        assert.is_true(a:allow("f", "disk", "500MB"))
        local b = H.engine(P("GB", "2GB"), T)
        local r = assert(b:import(a:export()))
        assert.equals("$.units.storage: MB in the document, GB here: every amount in it was converted",
            r.warnings[2])
        assert.equals(0.5, b:value("f", "disk"))
        local c = H.engine(P("s", "100"), T)
        r = assert(c:import(a:export()))
        assert.matches("^%$.units.storage: MB in the document, s here: its meters are dormant", r.warnings[2])
        assert.equals(0, c:value("f", "disk"))
    end)
end)
