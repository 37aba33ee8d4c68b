-- handler.lua: limitr in nginx's access phase (examples/openresty). One
-- engine per worker, built in init_by_lua; every request spends 1 `api`
-- request of the customer named by its X-Api-Key header, created on first
-- sight on the default plan. A denial is answered 429 with Retry-After.
local limitr = require "limitr"

local ngx = ngx
local ceil, tostring = math.ceil, tostring

local _M = {}

-- The policy. The limit's value is a Lua 5.4 snippet (integer division and
-- math.type): snippets run in the engine's own Lua 5.4 VM, not in nginx's
-- LuaJIT, so this gives 3 + 1 = 4 requests a minute here as under lua5.4.
_M.POLICY = [[
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
]]

local engine -- this worker's

-- Denials that are not about usage (hosting.md section 2): 403.
local FORBIDDEN = { unknown_customer = true, no_plan = true,
                    unknown_entitlement = true, no_scope_customer = true }

--- Builds the engine (init_by_lua: once, before the workers fork).
function _M.init(policy)
    engine = assert(limitr.new(policy or _M.POLICY, "yaml"))
    return engine
end

function _M.engine()
    return engine
end

-- A JSON body without a JSON library: the values are known to be safe.
local function reply(status, body, retry_after_s)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    if retry_after_s then ngx.header["Retry-After"] = retry_after_s end
    ngx.say(body)
    return ngx.exit(status)
end

--- The access phase: lets the request through, or answers 401, 429 or 500.
function _M.access(entitlement)
    entitlement = entitlement or "api"
    local id = ngx.var.http_x_api_key
    if id == nil or id == "" then
        return reply(ngx.HTTP_UNAUTHORIZED, '{"error": "missing_customer"}')
    end
    local ok, reason = engine:allow(id, entitlement, 1)
    if ok == false and reason == "unknown_customer" then
        -- first sight of this key: a customer on the default plan
        local created, err = engine:create_customer(id)
        if not created then
            ngx.log(ngx.ERR, "limitr: ", err)
            return reply(500, '{"error": "internal"}')
        end
        ok, reason = engine:allow(id, entitlement, 1)
    end
    if ok then return end
    if ok == nil or reason == "error" then -- an engine error, a failed snippet
        ngx.log(ngx.ERR, "limitr: ", reason)
        return reply(500, '{"error": "internal"}')
    end
    if FORBIDDEN[reason] then
        return reply(403, '{"error": "forbidden", "reason": "' .. reason .. '"}')
    end
    if reason == "invalid_value" then
        return reply(400, '{"error": "invalid_value"}')
    end
    -- denied: how long until the same call could pass (ms, or nil)
    local x = engine:explain(id, entitlement, 1)
    local ms = x and x.retry_after
    local secs = ms and ceil(ms / 1000) or nil
    return reply(429, '{"error": "limit", "reason": "' .. tostring(reason)
        .. '", "entitlement": "' .. entitlement .. '", "retry_after_ms": '
        .. (ms and tostring(ms) or "null") .. '}', secs)
end

--- GET /limit: this customer's limit of the entitlement (the snippet's 4).
function _M.limit(entitlement)
    local id = ngx.var.http_x_api_key or ""
    ngx.header["Content-Type"] = "text/plain"
    ngx.say(tostring(engine:limit(id, entitlement or "api")))
end

return _M
