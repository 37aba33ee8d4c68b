-- require "limitr": the Lua front of the engine. The C module limitr.core
-- does the work; this file checks arguments and holds Lua-side helpers.
local core = require "limitr.core"
local type, error, pairs, io = type, error, pairs, io

local _M = { _VERSION = core._VERSION }

-- Under LuaJIT, engine:allow and engine:check go through the FFI when they
-- can (lua/limitr/ffi.lua: same results, same errors, the JIT compiles the
-- call). Engines stay limitr.core's userdata; when the FFI is missing or
-- does not see the module's symbols, nothing changes. Lua 5.4: no FFI.
if jit then
    local ok, front = pcall(require, "limitr.ffi")
    if ok then pcall(front.install, core) end
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
    return core.new(text, format, opts)
end

--- Creates an engine from a policy file (.yaml, .yml or .json).
-- Returns the engine, or nil, err, code ("not_found" when the file cannot
-- be read).
function _M.load(path, opts)
    if type(path) ~= "string" then
        error("bad argument #1 to 'load' (string expected, got " .. type(path) .. ")", 2)
    end
    return core.load(path, opts)
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
    if type(policy) == "string" and not policy:find("\n", 1, true)
            and policy:sub(1, 1) ~= "{" then
        local f, err = io.open(policy, "rb")
        if not f then return nil, err, "not_found" end
        text = f:read("a")
        f:close()
        if policy:match("%.json$") then format = "json"
        elseif policy:match("%.ya?ml$") then format = "yaml" end
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
        return core.new(text, format, copy)
    end
    return core.open(text, format, copy)
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
