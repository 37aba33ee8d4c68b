-- The LuaJIT FFI front (lua/limitr/ffi.lua) declares C prototypes to call
-- the library without the classic Lua C API. A declaration that drifts from
-- the C source would make the FFI call the function with the wrong
-- arguments, silently: every prototype of its CDEF must be the one of
-- core/include/limitr.h (limitr_* functions) or of the binding
-- (bindings/lua/limitr_core.c, limitr_lua_ffi_*), text for text.
local source_dir = os.getenv("LIMITR_SOURCE_DIR") or "."

local function read(path)
    local f = assert(io.open(source_dir .. "/" .. path, "rb"))
    local text = f:read("a")
    f:close()
    return text
end

-- One line per declaration, single spaces, no comments, no LIMITR_API /
-- LIMITR_LUA_API markers, no space after '(' or before ')'.
local function normalize(decl)
    decl = decl:gsub("/%*.-%*/", " "):gsub("LIMITR_LUA_API", " "):gsub("LIMITR_API", " ")
    decl = decl:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
    decl = decl:gsub("%( ", "("):gsub(" %)", ")"):gsub(" ;", ";")
    return decl
end

-- Every function prototype (or definition head) in text, by name.
local function prototypes(text)
    local found = {}
    text = text:gsub("/%*.-%*/", " ")
    for decl in text:gmatch("[%w_][%w_ %*]-[%w_]+%s*%b()%s*[;{]") do
        local name = decl:match("([%w_]+)%s*%b()%s*[;{]$")
        if name then
            found[name] = normalize((decl:gsub("%s*{$", ";")))
        end
    end
    return found
end

describe("the FFI declarations (lua/limitr/ffi.lua)", function()
    local cdef = read("lua/limitr/ffi.lua"):match("local CDEF = %[%[(.-)%]%]")
    local header = prototypes(read("core/include/limitr.h"))
    local binding = prototypes(read("bindings/lua/limitr_core.c"))

    it("has a CDEF block", function()
        assert.is_string(cdef)
    end)

    it("declares every limitr function as limitr.h and the binding do", function()
        local checked = 0
        for name, decl in pairs(prototypes(cdef)) do
            if name:match("^limitr_") then
                local want = header[name] or binding[name]
                assert.is_not_nil(want, name .. " is in neither limitr.h nor the binding")
                assert.are.equal(want, decl, name)
                checked = checked + 1
            end
        end
        assert.is_true(checked >= 6) -- allow_n, check, last_error, last_reason, ffi_engine, ffi_token
    end)

    it("would notice a drift", function()
        local drifted = prototypes(cdef:gsub("double value,", "int value,"))
        assert.are_not.equal(header.limitr_allow_n, drifted.limitr_allow_n)
    end)
end)
