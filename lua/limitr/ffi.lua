-- limitr.ffi: under LuaJIT, engine:allow, engine:check and engine:decide through the FFI.
--
-- A call through the classic Lua C API (lua_CFunction) stops LuaJIT's trace;
-- a call through the FFI is compiled into it. install() replaces the allow
-- and check entries of the engines' methods table (the __index of the
-- "limitr.Engine" metatable, shared by every engine of limitr.core) with the
-- Lua functions below. Engines stay the classic userdata, so every other
-- method, tostring(e), e:close(), __gc and __close are untouched, and
-- `e.allow == getmetatable(e).__index.allow` still holds.
--
-- The fast path is taken only for the plain call:
--   allow(e, id, ent, value)  id, ent strings; value a number or nil
--   check(e, id, ent, value)  the same, id and ent without NUL bytes, no opts
-- on an engine of this module instance that limitr_lua_ffi_engine (in
-- bindings/lua/limitr_core.c) hands out: open, and with no live Lua
-- callback (an on() subscriber not yet off(), or a lib() function not yet
-- removed with lib(lib, name, nil): a C function called through the FFI
-- must not re-enter the Lua VM, and the classic module's trampolines do).
-- That check reads the engine's userdata on every call, so it follows
-- close(), __gc, on(), off() and lib() whoever calls them (the fast path
-- comes back after the last off()), and the engine userdata
-- (the call's own argument) stays alive for the whole call. Anything else
-- (unit strings, opts, wrong types, a closed engine, callbacks) tail-calls
-- the classic method with the same arguments, so results and errors are the
-- classic ones; LuaJIT keeps the caller's frame for the tail call, so error
-- messages name the method as before ("bad argument #1 to 'allow'").
-- The methods take fixed arguments, not `...`: LuaJIT starts traces at the
-- entry of a hot fixed-argument function only, and in nginx a request
-- handler's own trace rarely survives (ngx.var aborts it), so a vararg
-- method ran interpreted, its FFI calls at several times their compiled
-- cost. The classic method gets the arguments up to the last non-nil one,
-- so its "got no value" messages stay (a nil written out before the end is
-- reported as "no value" too).
-- The fast path returns what the classic method does: true; false, reason;
-- or nil, err, code, by the module's own rule (not_passed below).
local ffi = require "ffi"

local type, getmetatable, pcall, debug, package = type, getmetatable, pcall, debug, package

local _M = {}

local CDEF = [[
typedef struct limitr_engine limitr_engine;
typedef struct limitr_call_opts limitr_call_opts;
int limitr_allow_n(limitr_engine *engine, const char *id, size_t id_len,
                   const char *ent, size_t ent_len, double value,
                   const limitr_call_opts *opts);
int limitr_check(limitr_engine *engine, const char *id, const char *ent,
                 double value);
typedef struct limitr_decision {
    const char *reason;
    int has_limit;
    double limit, remaining;
    int has_reset;
    int64_t reset;
    int has_retry_after;
    double retry_after;
    int64_t now;
} limitr_decision;
int limitr_decide(limitr_engine *engine, const char *id, size_t id_len,
                  const char *ent, size_t ent_len, double value,
                  const char *value_str, const limitr_call_opts *opts,
                  limitr_decision *out);
const char *limitr_last_error(const limitr_engine *engine);
const char *limitr_last_reason(const limitr_engine *engine);
limitr_engine *limitr_lua_ffi_engine(const void *box);
int limitr_lua_ffi_is_refusal(limitr_engine *e, int status);
const void *limitr_lua_ffi_token(void);
size_t strlen(const char *s);
]]

-- Where the state of an install lives: the registry outlives this module, so
-- a second require (package.loaded cleared, as busted's insulation does)
-- finds the methods already replaced and the classic ones saved.
local STATE_KEY = "limitr.ffi"
local ENGINE_MT = "limitr.Engine"

-- The library of `core` through the FFI, or nil, why. The module is
-- dlopen'ed RTLD_LOCAL by require, so ffi.C does not see its symbols;
-- ffi.load of the same file returns the same instance (dlopen counts
-- references), which the token check proves: a second copy of the library
-- would have engines of its own, and could not use ours.
local function load_lib(core)
    if core._ffi_token == nil then return nil, "limitr.core has no _ffi_token" end
    local token = ffi.cast("const void *", core._ffi_token)
    local candidates = {}
    local path = package.searchpath and package.searchpath("limitr.core", package.cpath)
    if path then
        local ok, lib = pcall(ffi.load, path)
        if ok then candidates[#candidates + 1] = lib end
    end
    candidates[#candidates + 1] = ffi.C -- a host that links the module in
    for i = 1, #candidates do
        local lib = candidates[i]
        local ok, t = pcall(function() return lib.limitr_lua_ffi_token() end)
        if ok and t == token then
            local resolved = pcall(function()
                return lib.limitr_allow_n, lib.limitr_check, lib.limitr_decide,
                    lib.limitr_last_error, lib.limitr_last_reason,
                    lib.limitr_lua_ffi_engine, lib.limitr_lua_ffi_is_refusal
            end)
            if resolved then return lib end
        end
    end
    return nil, "the FFI does not see the loaded limitr.core"
end

-- f with the arguments up to the last that is not nil (a tail call: the
-- messages name the method the caller called).
local function classic_call(f, self, id, ent, value, opts)
    if opts ~= nil then return f(self, id, ent, value, opts) end
    if value ~= nil then return f(self, id, ent, value) end
    if ent ~= nil then return f(self, id, ent) end
    if id ~= nil then return f(self, id) end
    if self ~= nil then return f(self) end
    return f()
end

-- The fast methods over the classic ones (a table read at call time, so a
-- spec can count the calls that fall back).
local function make_methods(lib, classic)
    local allow_n, check_c = lib.limitr_allow_n, lib.limitr_check
    local last_error, engine_of = lib.limitr_last_error, lib.limitr_lua_ffi_engine
    local last_reason, is_refusal = lib.limitr_last_reason, lib.limitr_lua_ffi_is_refusal
    local strlen, ffi_string = ffi.C.strlen, ffi.string
    local mt = classic.mt

    -- A decision that did not pass, as the classic method answers it: the
    -- module's own rule (is_refusal in limitr_core.c) says false, reason or
    -- nil, err, code.
    local function not_passed(e, rc)
        if is_refusal(e, rc) ~= 0 then return false, ffi_string(last_reason(e)) end
        return nil, ffi_string(last_error(e)), ffi_string(last_reason(e))
    end

    local function allow(self, id, ent, value, opts)
        if opts == nil and getmetatable(self) == mt and type(id) == "string"
            and type(ent) == "string" and (value == nil or type(value) == "number") then
            local e = engine_of(self)
            if e ~= nil then
                local rc = allow_n(e, id, #id, ent, #ent, value or 0, nil)
                if rc == 0 then return true end
                return not_passed(e, rc)
            end
        end
        return classic_call(classic.allow, self, id, ent, value, opts)
    end

    local function check(self, id, ent, value, opts)
        if opts == nil and getmetatable(self) == mt and type(id) == "string" and type(ent) == "string"
            and (value == nil or type(value) == "number")
            and strlen(id) == #id and strlen(ent) == #ent then
            local e = engine_of(self)
            if e ~= nil then
                local rc = check_c(e, id, ent, value or 0)
                if rc == 0 then return true end
                return not_passed(e, rc)
            end
        end
        return classic_call(classic.check, self, id, ent, value, opts)
    end

    -- e:decide (limitr.resty's call): the decision fills one struct this
    -- install owns, read as cdata fields; nothing is allocated on a pass.
    local decide_c, out = lib.limitr_decide, ffi.new("limitr_decision")
    local tonumber = tonumber
    local function decide(self, id, ent, value, opts)
        if opts == nil and getmetatable(self) == mt and type(id) == "string"
            and type(ent) == "string" and (value == nil or type(value) == "number")
            and strlen(id) == #id and strlen(ent) == #ent then
            local e = engine_of(self)
            if e ~= nil then
                local rc = decide_c(e, id, #id, ent, #ent, value or 0, nil, nil, out)
                local reason
                if rc ~= 0 then
                    if is_refusal(e, rc) == 0 then return not_passed(e, rc) end
                    reason = ffi_string(out.reason)
                end
                local limit, remaining, reset, retry_after
                if out.has_limit ~= 0 then limit, remaining = out.limit, out.remaining end
                if out.has_reset ~= 0 then reset = tonumber(out.reset) end
                if out.has_retry_after ~= 0 then retry_after = out.retry_after end
                return rc == 0, reason, limit, remaining, reset, retry_after, tonumber(out.now)
            end
        end
        return classic_call(classic.decide, self, id, ent, value, opts)
    end

    return allow, check, decide
end

--- Installs the fast allow and check for the engines of `core` (the
-- limitr.core module). Returns true, or false, why (then nothing changed).
function _M.install(core)
    local reg = debug and debug.getregistry and debug.getregistry()
    if not reg then return false, "no debug.getregistry" end
    if reg[STATE_KEY] then return true end
    local mt = reg[ENGINE_MT]
    local methods = type(mt) == "table" and mt.__index
    if type(methods) ~= "table" or type(methods.allow) ~= "function"
        or type(methods.check) ~= "function" then
        return false, "no limitr.Engine methods table"
    end
    if not pcall(ffi.cdef, CDEF) then
        -- Declared already (another load of this file): usable if they match.
        if not pcall(ffi.typeof, "limitr_engine *") then
            return false, "cannot declare the limitr C functions"
        end
    end
    local lib, why = load_lib(core)
    if not lib then return false, why end
    local classic = { allow = methods.allow, check = methods.check, decide = methods.decide,
                      mt = mt, lib = lib }
    classic.fast_allow, classic.fast_check, classic.fast_decide = make_methods(lib, classic)
    methods.allow, methods.check = classic.fast_allow, classic.fast_check
    methods.decide = classic.fast_decide
    reg[STATE_KEY] = classic
    return true
end

--- The install's state: {allow, check (the classic methods, called on the
-- slow path), fast_allow, fast_check, mt, lib}, or nil when not installed.
-- Internal, for the specs.
function _M.state()
    local reg = debug and debug.getregistry and debug.getregistry()
    return reg and reg[STATE_KEY]
end

return _M
