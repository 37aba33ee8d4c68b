-- Hot reload (docs/reload.md): a new policy under live state.
local limitr = require "limitr"
local H = require "helpers"

local function policy(api, extra)
    return ([[
policy:
  credits: {req: {}, tok: {}, storage: {units: %s}}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: req, value: %d}}
%s]]):format(extra and extra.units or "MB", api, extra and extra.ents or "")
end

local CHAT = "        chat: {limit: {credit: tok, value: 1000}}\n"
local DISK_MB = "        disk: {limit: {credit: storage, value: 2GB}}\n"
local T = 1774872000000 -- 2026-03-30T12:00Z

describe("reload (docs/reload.md)", function()
    it("raises a limit live and keeps usage (the spec's example)", function()
        local e = H.engine(policy(100, { ents = CHAT }), T, "f", "free")
        assert.is_true(e:allow("f", "api", 100))
        assert.is_false(e:allow("f", "api", 1))
        local r = assert(e:reload(policy(150, { ents = CHAT })))
        assert.matches("^sha256:%x+$", r.previous)
        assert.equals(e:fingerprint(), r.current)
        assert.are_not.equal(r.previous, r.current)
        assert.same({}, r.warnings)
        assert.equals(100, e:value("f", "api"))
        assert.equals(150, e:limit("f", "api"))
        assert.is_true(e:allow("f", "api", 50))
        local ok, reason = e:allow("f", "api", 1)
        assert.is_false(ok)
        assert.equals("limit", reason)
    end)

    it("keeps a removed entitlement's meter dormant and revives it", function()
        local e = H.engine(policy(100, { ents = CHAT }), T, "f", "free")
        assert.is_true(e:allow("f", "chat", 300))
        local r = assert(e:reload(policy(100)))
        assert.equals("f: meters.chat: no limit of the policy counts it (dormant: kept, "
            .. "and used again when a policy has it)", r.warnings[1])
        H.fails("unknown_entitlement", e:value("f", "chat"))
        local ok, reason = e:allow("f", "chat", 1)
        assert.is_false(ok)
        assert.equals("unknown_entitlement", reason)
        assert(e:reload(policy(100, { ents = CHAT })))
        assert.equals(300, e:value("f", "chat"))
    end)

    it("converts amounts when a credit's units change (500 MB reads 0.5 GB)", function()
        local e = H.engine(policy(100, { ents = DISK_MB }), T, "f", "free")
        assert.is_true(e:allow("f", "disk", "500MB"))
        local r = assert(e:reload(policy(100, { units = "GB", ents = DISK_MB })))
        assert.equals("units.storage: MB -> GB: every amount in it was converted", r.warnings[1])
        assert.equals(0.5, e:value("f", "disk"))
        assert.equals(2, e:limit("f", "disk"))
        assert.is_true(e:allow("f", "disk", "1.5GB"))
        assert.is_false(e:allow("f", "disk", "1MB"))
    end)

    it("refuses a bad policy with every error and changes nothing", function()
        local e = H.engine(policy(100), T, "f", "free")
        local before = e:fingerprint()
        assert.is_true(e:allow("f", "api", 40))
        local err = H.fails("invalid_policy", e:reload([[
policy:
  credits: {req: {}}
  plans:
    free:
      entitlements:
        api: {limit: {credit: reqq, value: 1}}
        x: {limit: {credit: req, value: -1}}
]]))
        assert.matches("unknown credit 'reqq'", err)
        assert.matches("plans.free.entitlements.x", err)
        H.fails("not_found", e:reload_file("/nonexistent/p.yaml"))
        assert.has_error(function() e:reload(42) end)
        assert.equals(before, e:fingerprint())
        assert.equals(40, e:value("f", "api"))
        assert.is_false(e:allow("f", "api", 61))
    end)

    it("reloads a file, fires policy-reloaded, refuses a reload while delivering", function()
        local e = H.engine(policy(100), T, "f", "free")
        local seen = H.recorder(e, "policy%-reloaded")
        local inside
        e:on("meter-changed", function() inside = H.pack(e:reload(policy(7))) end)
        assert.is_true(e:allow("f", "api", 1))
        assert.same({ n = 3, nil, "reload during event delivery (or while a snippet runs): "
            .. "reload after the call returns", "reload_in_delivery" }, inside)
        assert.equals(100, e:limit("f", "api"))
        local path = os.tmpname() .. ".yaml"
        local f = assert(io.open(path, "w"))
        f:write(policy(5))
        f:close()
        local r = assert(e:reload_file(path))
        os.remove(path)
        assert.equals(5, e:limit("f", "api"))
        assert.equals(1, #seen)
        assert.equals(r.previous, seen[1].ev.previous)
        assert.equals(r.current, seen[1].ev.current)
    end)

    it("runs the new policy's handlers and host functions", function()
        local e = H.engine(policy(100), T, "f", "free")
        local calls = 0
        assert(e:lib("App", "seen", function() calls = calls + 1 end))
        assert(e:reload(policy(100) .. [[
  handlers:
    meter-changed: 'function(ev) App.seen() end'
]]))
        assert.is_true(e:allow("f", "api", 1))
        assert.equals(1, calls)
        assert(e:reload(policy(100)))
        assert.is_true(e:allow("f", "api", 1))
        assert.equals(1, calls)
    end)

    it("has a fingerprint of the canonical text, which loads to the same one", function()
        local e = H.engine(policy(100), T)
        local text = e:policy_text()
        assert.matches('^{"policy":{"credits":{"req":{},"tok":{},"storage":{"units":"MB"}}', text)
        local again = assert(limitr.new(text, "json"))
        assert.equals(e:fingerprint(), again:fingerprint())
    end)
end)
