-- limitr.resty: the access-phase guard for OpenResty (docs/shared.md).
--
--   local resty = require "limitr.resty"
--   local opts = {customer = {header = "X-Api-Key"}, entitlement = "requests"}
--   access_by_lua_block { resty.enforce(E, opts) }
--
-- enforce(e, opts) makes one allow through e:decide, so that the answer and
-- its RateLimit-Limit / -Remaining / -Reset fields (the IETF draft's, -00 to
-- -06) and Retry-After come from the same decision:
--   allowed                                  RateLimit-* set, returns true
--   denied (limit, governor, cap, on_exceed) 429 + Retry-After + RateLimit-*
--       {"error":"limit","reason":r,"entitlement":e,"retry_after_ms":n}
--   unknown_customer, no_plan,               403 {"error":"forbidden","reason":r}
--   unknown_entitlement, no_scope_customer
--   no key                                   401 {"error":"missing_customer"}
--   invalid_value                            400 {"error":"invalid_value"}
--   an error, a failed snippet, a raise      500 {"error":"internal"} and one
--                                            ngx.log line (never the key)
-- opts: customer (a string, {header = name}, {arg = name}, {var = name} or
-- function() -> id; required), entitlement (required), value (a number >= 0,
-- unit string or function() -> one of those, default 1: a function's
-- negative number or NaN is a 400), event (a table for allow's opts.event,
-- or function() -> table or nil: the event data of the call), headers
-- (false: no RateLimit-* fields), status (the deny status, 400 to 599,
-- default 429). Bad opts raise at the first enforce; what a function returns
-- that enforce cannot use is a 500. What enforce derives from opts is cached
-- per opts table (weakly): build opts once, at load.
local ngx = ngx
local type, pcall, tostring, tonumber, setmetatable, error = type, pcall, tostring, tonumber, setmetatable, error
local floor, ceil, max = math.floor, math.ceil, math.max
local format, gsub, byte = string.format, string.gsub, string.byte

local _M = {}

local FORBIDDEN = { unknown_customer = true, no_plan = true,
                    unknown_entitlement = true, no_scope_customer = true }

-- ---- JSON of the answers' flat bodies ----

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
                  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function json_string(s)
    return '"' .. gsub(s, '[%z\1-\31"\\]', function(c)
        return ESCAPES[c] or format("\\u%04x", byte(c))
    end) .. '"'
end

-- ---- What enforce derives from opts ----

local compiled = setmetatable({}, { __mode = "k" })

local function compile(opts)
    if type(opts) ~= "table" then error("limitr.resty: opts must be a table", 3) end
    local c = { ent = opts.entitlement, value = opts.value, event = opts.event,
                headers = opts.headers ~= false, status = opts.status or 429 }
    if c.event ~= nil and type(c.event) ~= "table" and type(c.event) ~= "function" then
        error("limitr.resty: opts.event must be a table or a function", 3)
    end
    if type(c.ent) ~= "string" then error("limitr.resty: opts.entitlement must be a string", 3) end
    if c.value == nil then c.value = 1 end
    local vt = type(c.value)
    if vt ~= "number" and vt ~= "string" and vt ~= "function" then
        error("limitr.resty: opts.value must be a number, a unit string or a function", 3)
    end
    -- a number, or a string the engine reads as one ("-5"), must be >= 0
    local n = tonumber(c.value)
    if vt ~= "function" and n ~= nil and not (n >= 0) then
        error("limitr.resty: opts.value must be a number >= 0", 3)
    end
    if type(c.status) ~= "number" or c.status % 1 ~= 0 or c.status < 400 or c.status > 599 then
        error("limitr.resty: opts.status must be an HTTP status from 400 to 599", 3)
    end
    local who = opts.customer
    if type(who) == "string" then
        c.id = who
    elseif type(who) == "function" then
        c.id_fn = who
    elseif type(who) == "table" and type(who.header) == "string" then
        c.var = "http_" .. who.header:lower():gsub("-", "_")
    elseif type(who) == "table" and type(who.arg) == "string" then
        c.var = "arg_" .. who.arg
    elseif type(who) == "table" and type(who.var) == "string" then
        c.var = who.var
    else
        error("limitr.resty: opts.customer must be a string, {header=}, {arg=}, {var=} or a function", 3)
    end
    compiled[opts] = c
    return c
end

-- ---- Answers ----

local function reply(status, body)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    ngx.say(body)
    return ngx.exit(status)
end

local function internal(err)
    ngx.log(ngx.ERR, "limitr: ", tostring(err))
    return reply(500, '{"error":"internal"}')
end

local function set_fields(limit, remaining, reset, now)
    if limit == nil then return end
    local h = ngx.header
    h["RateLimit-Limit"] = floor(limit)
    h["RateLimit-Remaining"] = max(0, floor(remaining))
    if reset ~= nil then h["RateLimit-Reset"] = max(0, ceil((reset - now) / 1000)) end
end

--- Lets the request through (returns true) or answers it (see the top).
function _M.enforce(e, opts)
    local c = compiled[opts] or compile(opts)
    local id, value = c.id, c.value
    if c.var then
        id = ngx.var[c.var]
    elseif c.id_fn then
        local ok, got = pcall(c.id_fn)
        if not ok then return internal("opts.customer raised: " .. tostring(got)) end
        id = got
    end
    if id == nil or id == "" then return reply(401, '{"error":"missing_customer"}') end
    if type(value) == "function" then
        local ok, got = pcall(value)
        if not ok then return internal("opts.value raised: " .. tostring(got)) end
        local t = type(got)
        if t ~= "number" and t ~= "string" then
            return internal("opts.value returned " .. t .. ", not a number or a unit string")
        end
        -- a request that would give back usage (or NaN) is the request's
        -- fault when its value comes from it; request data is text, and
        -- the engine reads "-5" as -5
        local n = tonumber(got)
        if n ~= nil and not (n >= 0) then return reply(400, '{"error":"invalid_value"}') end
        value = got
    end
    local call_opts -- nil on the hot path: no event data, nothing built
    if c.event ~= nil then
        local event = c.event
        if type(event) == "function" then
            local fine, got = pcall(event)
            if not fine then return internal("opts.event raised: " .. tostring(got)) end
            if got ~= nil and type(got) ~= "table" then
                return internal("opts.event returned " .. type(got) .. ", not a table or nil")
            end
            event = got
        end
        if event ~= nil then call_opts = { event = event } end
    end
    local ok, reason, limit, remaining, reset, retry_after, now =
        e:decide(id, c.ent, value, call_opts)
    if ok then
        if c.headers then set_fields(limit, remaining, reset, now) end
        return true
    end
    if ok == nil then
        -- reason is the message; it may quote the ID: never logged with it
        return internal(limit or "error") -- limit holds the code here
    end
    if reason == "error" or reason == "self_reference" then
        -- the limit's value snippet failed, or reads its own limit: the
        -- policy's fault, not the caller's
        return internal("the limit's value snippet failed: " .. reason)
    end
    if FORBIDDEN[reason] then
        return reply(403, '{"error":"forbidden","reason":' .. json_string(reason) .. '}')
    end
    if reason == "invalid_value" then return reply(400, '{"error":"invalid_value"}') end
    if c.headers then set_fields(limit, remaining, reset, now) end
    local ms = "null"
    if retry_after ~= nil then
        ngx.header["Retry-After"] = ceil(retry_after / 1000)
        ms = format("%d", retry_after)
    end
    return reply(c.status, '{"error":"limit","reason":' .. json_string(reason) ..
        ',"entitlement":' .. json_string(c.ent) .. ',"retry_after_ms":' .. ms .. '}')
end

return _M
