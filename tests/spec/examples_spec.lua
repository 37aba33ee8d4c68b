-- The runnable examples print what they promise.
local run = require("helpers").run_example

describe("examples/ai_tokens.lua", function()
    it("prices calls per model and lets only the allowed customer run over", function()
        assert.are.equal(table.concat({
            "startup  sonnet  90000 tokens, cost 0.3900 runes",
            "startup  denied: quota reached: upgrade or buy overage",
            "bigco    sonnet  90000 tokens, cost 0.3900 runes",
            "bigco    bill 5000 tokens of overage",
            "bigco    denied: overage cap reached",
            'startup  explain: gate on_exceed, reason "quota reached: upgrade or buy overage", retry after 2678400 s',
            "",
        }, "\n"), run("examples/ai_tokens.lua"))
    end)
end)

describe("examples/credits_burndown.lua", function()
    it("spends prepaid credits across features, with a top-up and an expiry", function()
        assert.are.equal(table.concat({
            "created (10 included)        10.0000 credits left",
            "  ai_input    1000000 units,  1000000 paid by grants",
            "  ai_output    100000 units,   100000 paid by grants",
            "  storage         300 units,      300 paid by grants",
            "after a day of work           1.0000 credits left",
            "  ai_output  denied: 100000 more than the credits cover",
            "  bought boost: 5 more credits, valid 30 days",
            "after buying a boost          6.0000 credits left",
            "  ai_output    100000 units,   100000 paid by grants",
            "after the retry               4.0000 credits left",
            "next month (10 + boost's 3)  13.0000 credits left",
            "  grant monthly-1  credit: 10 left",
            "",
        }, "\n"), run("examples/credits_burndown.lua"))
    end)
end)

describe("examples/spend_caps.lua", function()
    it("holds an org budget shared by teams and users", function()
        assert.are.equal(table.concat({
            "ana   chat    100000 -> allowed",
            "ben   images      20 -> allowed",
            "  ben   denied by ben's ben_budget (0.80 of 1.00 runes used)",
            "ben   images      10 -> cap",
            "  research's team_budget reached 3.00 runes (call by ana)",
            "ana   images      30 -> allowed",
            "  ana   denied by research's team_budget (3.00 of 3.00 runes used)",
            "ana   chat      1000 -> cap",
            "  acme's heads_up reached 4.50 runes (call by carl)",
            "carl  chat    150000 -> allowed",
            "  carl  denied by acme's org_budget (4.50 of 5.00 runes used)",
            "carl  images      20 -> cap",
            "  org_budget  4.50 of 5.00 runes",
            "  team_budget 3.00 of 3.00 runes",
            "  ben_budget  0.80 of 1.00 runes",
            "research's budget reset",
            "  acme's org_budget reached 5.00 runes (call by ana)",
            "ana   chat     50000 -> allowed",
            "  org_budget  5.00 of 5.00 runes",
            "  team_budget 0.50 of 3.00 runes",
            "  ben_budget  0.80 of 1.00 runes",
            "",
        }, "\n"), run("examples/spend_caps.lua"))
    end)
end)

describe("examples/openresty/handler.lua", function()
    local H = require "helpers"
    local json = require "dkjson"

    -- The handler with a stand-in for nginx's ngx table: each call of
    -- access()/limit() answers into `out` ({status, body, headers, logs}).
    local function load_handler()
        local out
        local fake = {
            ERR = "ERR", HTTP_UNAUTHORIZED = 401,
            var = {},
            header = setmetatable({}, { __newindex = function(_, k, v) out.headers[k] = v end }),
            say = function(s) out.body = (out.body or "") .. tostring(s) end,
            exit = function(status) out.exit = status end,
            log = function(_, ...) out.logs[#out.logs + 1] = table.concat({ ... }) end,
        }
        setmetatable(fake, { __newindex = function(t, k, v)
            if k == "status" then out.status = v else rawset(t, k, v) end
        end })
        local saved_ngx, saved_path = _G.ngx, package.path
        _G.ngx = fake
        package.path = H.root() .. "/examples/openresty/?.lua;" .. package.path
        package.loaded.handler = nil
        local handler = require "handler"
        package.loaded.handler = nil
        package.path, _G.ngx = saved_path, saved_ngx
        local function call(f, key, ...)
            out = { headers = {}, logs = {} }
            fake.var.http_x_api_key = key
            f(...)
            return out
        end
        return handler, call
    end

    it("answers every outcome of the table with valid JSON", function()
        local handler, call = load_handler()
        handler.init(handler.POLICY:gsub("    free:\n", [[
    org_only:
      entitlements:
        seats: {scope: org, limit: {credit: request, value: 1}}
    broken_plan:
      entitlements:
        api: {limit: {credit: request, value: "function() error('boom') end"}}
    free:
]]))
        local e = handler.engine()
        local function decoded(o)
            local v, _, err = json.decode(o.body)
            assert(type(v) == "table", ("not JSON (%s): %s"):format(tostring(err), o.body))
            assert.are.equal("application/json", o.headers["Content-Type"])
            assert.are.equal(o.status, o.exit)
            return v
        end
        -- allowed: nothing answered; a new key becomes a customer
        local o = call(handler.access, "k1", "api")
        assert.is_nil(o.status)
        assert.are.equal("free", e:customer("k1").plan)
        -- no key
        o = call(handler.access, nil, "api")
        assert.are.same({ 401, { error = "missing_key" } }, { o.status, decoded(o) })
        -- denied at the limit, and by on_exceed with quotes in its reason
        for _ = 1, 3 do call(handler.access, "k1", "api") end
        o = call(handler.access, "k1", "api")
        assert.are.equal(429, o.status)
        local v = decoded(o)
        assert.are.same({ "limit", "limit", "api" }, { v.error, v.reason, v.entitlement })
        assert.is_true(v.retry_after_ms > 0)
        assert.are.equal(math.ceil(v.retry_after_ms / 1000), o.headers["Retry-After"])
        call(handler.access, "k1", "export")
        o = call(handler.access, "k1", "export")
        assert.are.same({ 429, 'plan "free": 1 export a minute' }, { o.status, decoded(o).reason })
        -- gates: 403
        o = call(handler.access, "k1", "nope")
        assert.are.same({ 403, { error = "forbidden", reason = "unknown_entitlement" } }, { o.status, decoded(o) })
        e:create_customer("k2", "org_only")
        o = call(handler.access, "k2", "seats")
        assert.are.same({ 403, { error = "forbidden", reason = "no_scope_customer" } }, { o.status, decoded(o) })
        o = call(handler.limit, "never-seen", "api")
        assert.are.same({ 403, { error = "forbidden", reason = "unknown_customer" } }, { o.status, decoded(o) })
        -- a failed limit snippet: 500, one log line without the key
        e:create_customer("secret-key-3", "broken_plan")
        o = call(handler.access, "secret-key-3", "api")
        assert.are.same({ 500, { error = "internal" } }, { o.status, decoded(o) })
        assert.are.equal(1, #o.logs)
        assert.matches("limitr: allow failed: error", o.logs[1], 1, true)
        o = call(handler.limit, "secret-key-3", "api")
        assert.are.same({ 500, { error = "internal" } }, { o.status, decoded(o) })
        assert.are.equal(1, #o.logs)
        assert.is_nil(o.logs[1]:find("secret-key-3", 1, true))
        -- the limit as text
        o = call(handler.limit, "k1", "api")
        assert.are.same({ "4", "text/plain" }, { o.body, o.headers["Content-Type"] })
    end)

    it("encodes JSON correctly without lua-cjson", function()
        local handler = load_handler()
        local encode = handler.json_fallback
        local all = {}
        for b = 0, 127 do all[#all + 1] = string.char(b) end
        local values = {
            { s = table.concat(all) },
            { reason = 'say "no" \\ /', n = 59936, f = 0.5, neg = -3, t = true, fl = false },
            { utf8 = "caf\195\169 \226\130\172" },
            {},
        }
        for _, v in ipairs(values) do
            local text = encode(v)
            local back, _, err = json.decode(text)
            assert(back, ("invalid JSON (%s): %s"):format(tostring(err), text))
            assert.are.same(v, back)
        end
        assert.are.equal('{"a":null,"b":1}', encode({ a = handler.NULL, b = 1 }))
        assert.are.equal('{"x":null}', encode({ x = 0 / 0 }))
        assert.are.equal("12345678901", encode(12345678901))
    end)
end)

describe("examples/reload.lua", function()
    it("raises a limit live, keeps usage and refuses a broken edit", function()
        assert.are.equal(table.concat({
            "allow 100 -> true    (used 100 of 100)",
            "allow   1 -> false limit  (used 100 of 100)",
            "policy-reloaded: fingerprint changed, 0 warnings",
            "allow  50 -> true    (used 150 of 150)",
            "allow   1 -> false limit  (used 150 of 150)",
            "reload refused: plans.free.entitlements.api.limit.credit: unknown credit 'requests' "
                .. "(did you mean 'request'?) at 8:31",
            "allow   1 -> false limit  (used 150 of 150)",
            "",
        }, "\n"), run("examples/reload.lua"))
    end)
end)

describe("examples/persistent.lua", function()
    it("keeps usage across a restart through a store", function()
        assert.are.equal(table.concat({
            "first run:  store created: true",
            "first run:  acme used 70 of 100, exiting",
            "second run: 1 customer restored",
            "second run: acme used 70 of 100",
            "second run: allow 40 -> false limit",
            "second run: allow 30 -> true (used 100)",
            "",
        }, "\n"), run("examples/persistent.lua"))
    end)
end)
