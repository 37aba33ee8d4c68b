-- handler.lua: limitr in nginx's access phase (examples/openresty). One
-- engine per worker, built in init_by_lua; every request spends 1 of an
-- entitlement of the customer named by its X-Api-Key header, created on
-- first sight on the default plan. Answers, always JSON:
--   no key                                     401 {"error":"missing_key"}
--   denied (limit, governor, on_exceed)        429 + Retry-After
--       {"error":"limit","reason":r,"entitlement":e,"retry_after_ms":n}
--   unknown_customer, no_plan,                 403 {"error":"forbidden","reason":r}
--   unknown_entitlement, no_scope_customer
--   invalid_value                              400 {"error":"invalid_value"}
--   an engine failure or a failed snippet      500 {"error":"internal"}, and
--                                              one ngx.log line (never the key)
local limitr = require "limitr"

local ngx = ngx
local ceil, find, sub, format, byte = math.ceil, string.find, string.sub, string.format, string.byte
local type, pairs, tostring, concat, sort = type, pairs, tostring, table.concat, table.sort

local _M = {}

-- The policy. The api limit's value is a Lua 5.4 snippet (integer division
-- and math.type): snippets run in the engine's own Lua 5.4 VM, not in
-- nginx's LuaJIT, so this gives 3 + 1 = 4 requests a minute here as under
-- lua5.4. export's on_exceed denies with a reason of its own (quotes
-- included: the JSON body must escape them).
_M.POLICY = [=[
policy:
  credits:
    request: {}
  plans:
    free:
      default: true
      entitlements:
        api:
          limit:
            credit: request
            resets: true
            reset_inc: 1min
            value: "function(customer) return (7 // 2) + (math.type(1) == 'integer' and 1 or 0) end"
        export:
          limit:
            credit: request
            value: 1
            resets: true
            reset_inc: 1min
            on_exceed: "function(ctx) return false, 'plan \"free\": 1 export a minute' end"
]=]

-- ---- JSON ----

-- JSON null for the encoder in use.
local NULL = {}

-- A small correct encoder for hosts without lua-cjson: strings escaped
-- (quote, backslash, every control character), integral numbers without a
-- fraction, object keys sorted. Enough for the flat bodies below; strings
-- are passed through as bytes (the engine's are UTF-8).
local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
                  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function encode_string(s)
    return '"' .. s:gsub('[%z\1-\31"\\]', function(c)
        return ESCAPES[c] or format("\\u%04x", byte(c))
    end) .. '"'
end

local function encode_value(v)
    local t = type(v)
    if v == NULL or v == nil then return "null" end
    if t == "string" then return encode_string(v) end
    if t == "boolean" then return tostring(v) end
    if t == "number" then
        if v ~= v or v == math.huge or v == -math.huge then return "null" end
        if v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return format("%d", v) end
        return format("%.17g", v)
    end
    if t == "table" then
        local keys = {}
        for k in pairs(v) do keys[#keys + 1] = k end
        sort(keys)
        for i, k in ipairs(keys) do keys[i] = encode_string(k) .. ":" .. encode_value(v[k]) end
        return "{" .. concat(keys, ",") .. "}"
    end
    error("cannot encode a " .. t .. " as JSON")
end

_M.json_fallback = encode_value

-- cjson.safe when the host has it (OpenResty does; Debian: lua-cjson).
local json = encode_value
do
    local ok, cjson = pcall(require, "cjson.safe")
    if ok and type(cjson) == "table" then
        json, NULL = cjson.encode, cjson.null
    end
end
_M.json, _M.NULL = json, NULL

-- ---- Answers ----

local engine -- this worker's

--- Builds the engine (init_by_lua: once, before the workers fork).
function _M.init(policy)
    engine = assert(limitr.new(policy or _M.POLICY, "yaml"))
    return engine
end

function _M.engine()
    return engine
end

-- Denials that are not about usage (docs/roadmap.md 3.2): 403.
local FORBIDDEN = { unknown_customer = true, no_plan = true,
                    unknown_entitlement = true, no_scope_customer = true }

local function reply(status, body, retry_after_s)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    if retry_after_s then ngx.header["Retry-After"] = retry_after_s end
    ngx.say(json(body))
    return ngx.exit(status)
end

-- text with every occurrence of key replaced (plain text, no patterns):
-- messages may quote an ID, and the key must never reach the log.
local function without(text, key)
    local out, at = {}, 1
    while true do
        local i, j = find(text, key, at, true)
        if not i then break end
        out[#out + 1] = sub(text, at, i - 1)
        out[#out + 1] = "<key>"
        at = j + 1
    end
    out[#out + 1] = sub(text, at)
    return concat(out)
end

-- 500, with one log line: what failed, the reason code, the message.
local function internal(what, err, code, key)
    ngx.log(ngx.ERR, "limitr: ", what, " failed: ", tostring(code), ": ",
            without(tostring(err), key))
    return reply(500, { error = "internal" })
end

-- The key, or nil after answering 401.
local function api_key()
    local id = ngx.var.http_x_api_key
    if id == nil or id == "" then
        reply(ngx.HTTP_UNAUTHORIZED, { error = "missing_key" })
        return nil
    end
    return id
end

--- The access phase: lets the request through, or answers as listed at the
-- top of this file.
function _M.access(entitlement)
    entitlement = entitlement or "api"
    local id = api_key()
    if not id then return end
    local ok, reason, code = engine:allow(id, entitlement, 1)
    if ok == false and reason == "unknown_customer" then
        -- first sight of this key: a customer on the default plan
        local created, err, why = engine:create_customer(id)
        if not created then return internal("create_customer", err, why, id) end
        ok, reason, code = engine:allow(id, entitlement, 1)
    end
    if ok then return end
    if ok == nil then return internal("allow", reason, code, id) end
    if reason == "error" then -- the limit value snippet failed (an error event says why)
        return internal("allow", "the limit value snippet failed", reason, id)
    end
    if FORBIDDEN[reason] then return reply(403, { error = "forbidden", reason = reason }) end
    if reason == "invalid_value" then return reply(400, { error = "invalid_value" }) end
    -- denied: limit, governor or an on_exceed reason; how long until the
    -- same call could pass (ms, or nil when not knowable)
    local x = engine:explain(id, entitlement, 1)
    local ms = type(x) == "table" and x.retry_after or nil
    return reply(429, { error = "limit", reason = reason, entitlement = entitlement,
                        retry_after_ms = ms or NULL }, ms and ceil(ms / 1000) or nil)
end

--- GET /limit: this customer's limit of the entitlement (the snippet's 4),
-- as text; 403 for an unknown key, 401 without one.
function _M.limit(entitlement)
    local id = api_key()
    if not id then return end
    local n, err, code = engine:limit(id, entitlement or "api")
    if n then
        ngx.header["Content-Type"] = "text/plain"
        ngx.say(n)
        return
    end
    if FORBIDDEN[code] then return reply(403, { error = "forbidden", reason = code }) end
    return internal("limit", err, code, id)
end

return _M
