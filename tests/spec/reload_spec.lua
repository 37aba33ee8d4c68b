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

    describe("review cases", function()
        local function credit_policy(c)
            return ([[
policy:
  credits: {req: {}, tok: {}}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: %s, value: 100}}
]]):format(c)
        end

        it("a meter whose limit now counts another credit reads as absent, snapshot too", function()
            local e = H.engine(credit_policy("req"), T, "f", "free")
            assert.is_true(e:allow("f", "api", 60))
            assert(e:reload(credit_policy("tok")))
            assert.equals(0, e:value("f", "api"))
            local m = e:customer("f").meters.api
            assert.equals(0, m.value)
            assert.equals("tok", m.credit)
            assert.equals(100, m.remaining)
        end)

        it("a reservation made in the old credit holds nothing under the new one", function()
            local e = H.engine(credit_policy("req"), T, "f", "free")
            assert(e:reserve("f", "api", 60))
            assert(e:reload(credit_policy("tok")))
            assert.equals(0, e:held("f", "api"))
            assert.is_true(e:allow("f", "api", 50))
            assert.is_true(e:allow("f", "api", 50))
            assert.is_false(e:allow("f", "api", 1))
        end)

        it("subscriptions to a notification follow its name, and wait while it is gone", function()
            local function P(notifs)
                return credit_policy("req"):gsub("value: 100", "value: 1000")
                    .. "  notifications:\n" .. notifs
            end
            local big = "    big: {matches: \"function(t, ev) return t == 'meter-changed' and "
                .. "ev.meter.diff >= 50 end\"}\n"
            local any = "    any: {matches: \"function(t, ev) return t == 'meter-changed' end\"}\n"
            local e = H.engine(P(big), T, "f", "free")
            local calls = 0
            assert(e:on("big", function() calls = calls + 1 end))
            assert(e:reload(P(any .. big)))
            assert.is_true(e:allow("f", "api", 1)) -- 'any' matches, not 'big'
            assert.equals(0, calls)
            assert.is_true(e:allow("f", "api", 50))
            assert.equals(1, calls)
            assert(e:reload(P(any)))
            assert.is_true(e:allow("f", "api", 1))
            assert.equals(1, calls)
            assert(e:reload(P(big)))
            assert.is_true(e:allow("f", "api", 1))
            assert.is_true(e:allow("f", "api", 50))
            assert.equals(2, calls)
        end)

        it("a credit removed and added back converts from the units its amounts were kept in", function()
            local without = policy(100)
            local mb = policy(100, { ents = DISK_MB })
            local gb = policy(100, { units = "GB", ents = DISK_MB }):gsub("  credits: {req: {}, tok: {}, storage: {units: GB}}",
                "  credits: {req: {}, tok: {}, storage: {units: GB}}")
            local e = H.engine(mb, T, "f", "free")
            assert.is_true(e:allow("f", "disk", "500MB"))
            assert(e:reload((without:gsub(", storage: {units: MB}", ""))))
            assert(e:reload(gb))
            assert.equals(0.5, e:value("f", "disk"))
        end)

        it("an override's own credit is not a credit change", function()
            local e = H.engine(credit_policy("req"), T, "f", "free")
            assert(e:create_customer_override("f", "api", { credit = "tok", value = 100 }))
            assert.is_true(e:allow("f", "api", 30))
            local r = assert(e:reload(credit_policy("req")))
            assert.same({}, r.warnings)
            assert.equals(30, e:value("f", "api"))
        end)

        it("a host function named as the sandbox's own is refused before any policy has snippets", function()
            -- (it was taken while the policy had no snippet VM, then only
            -- warned about by the reload that brought one)
            local e = H.engine(credit_policy("req"), T)
            local _, err, code = e:lib("math", "double", function(x) return 2 * x end)
            assert.equals("invalid_argument", code)
            assert.matches("'math' is a name of the snippet sandbox", err)
            local r = assert(e:reload(credit_policy("req") .. "  handlers:\n    meter-changed: 'function(ev) end'\n"))
            assert.same({}, r.warnings)
        end)

        it("a policy-wide estimate converts once when its units change", function()
            local function P(u)
                return ([[
policy:
  credits: {s1: {units: %s}, s2: {units: %s}}
  estimates:
    api:
      all: {samples: 10, value_mean: 1000}
  plans:
    p1:
      default: true
      entitlements:
        api: {limit: {credit: s1, value: 1000000}}
    p2:
      entitlements:
        api: {limit: {credit: s2, value: 1000000}}
]]):format(u, u)
            end
            local e = H.engine(P("MB"), T, "f", "p1")
            assert.equals(1000, e:estimate("f", "api").value)
            assert(e:reload(P("GB")))
            assert.equals(1, e:estimate("f", "api").value)
        end)

        it("the canonical text keeps entries of defaults and numbers exactly", function()
            local function fp(text) return assert(limitr.new(text)):fingerprint() end
            local bare = [[
policy:
  credits: {req: , tok: }
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: req, value: %s}}
    pro:
]]
            local e = assert(limitr.new(bare:format("100")))
            local text = e:policy_text()
            assert.matches('"credits":{"req":{},"tok":{}}', text, 1, true)
            assert.matches('"pro":{}', text, 1, true)
            assert.equals(e:fingerprint(), assert(limitr.new(text, "json")):fingerprint())
            assert.equals(fp(bare:format("100")), fp(bare:format("1e2")))
            assert.equals(fp(bare:format("100")), fp(bare:format("100.0")))
            assert.are_not.equal(fp(bare:format("100000000000000001")),
                fp(bare:format("100000000000000000")))
            assert.matches('"value":100000000000000001', assert(limitr.new(
                bare:format("100000000000000001"))):policy_text(), 1, true)
            assert.matches('"value":0.000001', assert(limitr.new(
                bare:format("1e-6"))):policy_text(), 1, true)
            assert.matches('"value":0.00000015', assert(limitr.new(
                bare:format("1.5e-7"))):policy_text(), 1, true)
            assert.matches('"value":1.5e-8', assert(limitr.new(
                bare:format("0.000000015"))):policy_text(), 1, true)
        end)
    end)
end)
