-- require "limitr": the Lua front of the engine. The C module limitr.core
-- does the work; this file checks arguments and holds Lua-side helpers.
local core = require "limitr.core"
local type, error, pairs, io, pcall = type, error, pairs, io, pcall

local _M = { _VERSION = core._VERSION }

-- Under LuaJIT, engine:allow and engine:check go through the FFI when they
-- can (lua/limitr/ffi.lua: same results, same errors, the JIT compiles the
-- call). Engines stay limitr.core's userdata; when the FFI is missing or
-- does not see the module's symbols, nothing changes. Lua 5.4: no FFI.
if jit then
    local ok, front = pcall(require, "limitr.ffi")
    if ok then pcall(front.install, core) end
end

-- The results of pcall(core function, ...), or its error raised at the
-- caller of the front's function (a bad option names the caller's line,
-- not this file's). Called as a tail call (`return relay(pcall(...))`),
-- so that level 2 is that caller.
local function relay(ok, ...)
    if not ok then error((...), 2) end
    return ...
end

--- Creates an engine from a policy document.
-- text: the YAML or JSON document; format: "yaml", "json" or nil (detect);
-- opts: nil or {snippet_instructions, snippet_milliseconds, snippet_memory,
-- pattern_steps}, the budgets of the policy's Lua snippets.
-- Returns the engine, or nil, err, code (err: every problem of the document,
-- one per line; code: limitr_last_reason's, e.g. "invalid_argument").
function _M.new(text, format, opts)
    if type(text) ~= "string" then
        error("bad argument #1 to 'new' (string expected, got " .. type(text) .. ")", 2)
    end
    if format ~= nil and type(format) ~= "string" then
        error("bad argument #2 to 'new' (string or nil expected, got " .. type(format) .. ")", 2)
    end
    return relay(pcall(core.new, text, format, opts))
end

--- Creates an engine from a policy file (.yaml, .yml or .json).
-- Returns the engine, or nil, err, code ("not_found" when the file cannot
-- be read).
function _M.load(path, opts)
    if type(path) ~= "string" then
        error("bad argument #1 to 'load' (string expected, got " .. type(path) .. ")", 2)
    end
    return relay(pcall(core.load, path, opts))
end

-- A policy given as a path or as text: its text and format, or nil, err.
-- Text holds a newline or starts with "{"; anything else is a path.
local function read_policy(policy, format)
    if policy == "" or policy:find("\n", 1, true) or policy:sub(1, 1) == "{" then
        return policy, format
    end
    local f, err = io.open(policy, "rb")
    if not f then return nil, nil, err end
    local text = f:read("*a")
    f:close()
    if policy:match("%.json$") then format = "json"
    elseif policy:match("%.ya?ml$") then format = "yaml" end
    return text, format
end

--- Opens an engine whose state lives in a SQLite store (docs/store.md).
-- policy: a path (.yaml, .yml or .json), the document's text (it holds a
-- newline or starts with "{"), or nil: the store's own policy.
-- opts: the engine's options of new(), and store (the path; without it,
-- open is new), durability ("sync" or "batch"), batch_ms, readonly, log
-- (true, false, {max_rows, max_age}), snapshot_ms, format (of a text).
-- Returns engine, {created, customers, policy_changed, warnings}, or nil,
-- err, code.
function _M.open(policy, opts)
    local text, format = policy, nil
    if policy ~= nil and type(policy) ~= "string" then
        error("bad argument #1 to 'open' (string or nil expected, got " .. type(policy) .. ")", 2)
    end
    if opts ~= nil and type(opts) ~= "table" then
        error("bad argument #2 to 'open' (table or nil expected, got " .. type(opts) .. ")", 2)
    end
    if opts and opts.format ~= nil then
        if type(opts.format) ~= "string" then
            error("open: option 'format' must be \"yaml\" or \"json\"", 2)
        end
        format = opts.format
    end
    if type(policy) == "string" then
        local err
        text, format, err = read_policy(policy, format)
        if not text then return nil, err, "not_found" end
    end
    local copy
    if opts then
        copy = {}
        for k, v in pairs(opts) do
            if k ~= "format" then copy[k] = v end
        end
    end
    if not (copy and copy.store) then
        if text == nil then return nil, "open: a policy or a store is needed", "invalid_argument" end
        return relay(pcall(core.new, text, format, copy))
    end
    return relay(pcall(core.open, text, format, copy))
end

-- "16m" -> bytes (k, m, g: 2^10, 2^20, 2^30), or nil.
local SIZE_UNITS = { k = 2 ^ 10, m = 2 ^ 20, g = 2 ^ 30 }
local function parse_size(v)
    if type(v) == "number" then return v end
    if type(v) ~= "string" then return nil end
    local n, unit = v:match("^(%d+)([kmgKMG]?)$")
    if not n then return nil end
    return tonumber(n) * (unit == "" and 1 or SIZE_UNITS[unit:lower()])
end

--- An engine whose customer state lives in a region shared with every
-- process forked afterwards (docs/shared.md): nginx workers forked after
-- init_by_lua. policy: a path or the document's text. opts: the engine's
-- options of new(), format (of a text), size (bytes, or "64m"; default
-- "16m", at least "1m"), shards, lock_timeout (ms), name (default
-- "limitr": a second call with the same name and size, as nginx makes on
-- a HUP reload, attaches to the region and applies its policy as a
-- reload). Returns the engine, or nil, err, code.
function _M.shared(policy, opts)
    if type(policy) ~= "string" then
        error("bad argument #1 to 'shared' (string expected, got " .. type(policy) .. ")", 2)
    end
    if opts ~= nil and type(opts) ~= "table" then
        error("bad argument #2 to 'shared' (table or nil expected, got " .. type(opts) .. ")", 2)
    end
    local ngx = rawget(_G, "ngx")
    if ngx and type(ngx.get_phase) == "function" and ngx.get_phase() ~= "init" then
        return nil, "limitr.shared must run in init_by_lua", "invalid_argument"
    end
    local copy = {}
    for k, v in pairs(opts or {}) do copy[k] = v end
    if copy.size ~= nil then
        local bytes = parse_size(copy.size)
        if not bytes then
            error("limitr.shared: size must be bytes or a string like \"64m\"", 2)
        end
        if bytes < 2 ^ 20 then error("limitr.shared: size must be at least 1m", 2) end
        copy.size = bytes
    end
    local format = copy.format
    copy.format = nil
    if format ~= nil and type(format) ~= "string" then
        error("shared: option 'format' must be \"yaml\" or \"json\"", 2)
    end
    local text, fmt, err = read_policy(policy, format)
    if not text then return nil, err, "not_found" end
    return relay(pcall(core.shared, text, fmt, copy))
end

--- Fills every part of an event payload that is built when first read (a
-- subscriber's payload and its customer, docs/engine.md 10.1), so that code
-- reading tables raw (next, lua-cjson's encode) sees them whole. Call it
-- while the event is delivered. Returns v; other values pass unchanged.
function _M.plain(v)
    local seen = {}
    local function fill(t, depth)
        if type(t) ~= "table" or seen[t] or depth > 32 then return end
        seen[t] = true
        for _, x in pairs(t) do fill(x, depth + 1) end
    end
    fill(v, 0)
    return v
end

return _M
