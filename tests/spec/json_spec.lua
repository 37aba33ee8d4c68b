-- json_spec: the binding's JSON text reader (bindings/lua/json_text.h),
-- through which every snapshot, payload, explain result and host function
-- argument reaches Lua. It must give the values a JSON parser gives (dkjson
-- here), read cJSON's output exactly, and refuse what is not JSON.
local core = require "limitr.core"
local json = require "dkjson"
local H = require "helpers"

local decode = core._json_decode

describe("the JSON text reader", function()
    it("reads values as a JSON parser does", function()
        local texts = {
            '{}', '[]', '0', '-0', '1', '-17', '123456789012345',
            '0.1', '-2.5e-3', '1E300', '1e-300', '12.0',
            'true', 'false', '"plain"', '""',
            [["a\"b\\c\/d\b\f\n\r\t"]], [["\u0041\u00e9\u20ac\ud83d\ude00"]], [["caf\u00c3"]],
            ' { "a" : [ 1 , 2 , { "b" : "c" } ] , "d" : { } , "e" : [ ] } ',
            '{"customer":{"id":"c","meters":{"seats":{"value":0.3,"limit":1e15}}},"n":-1}',
            '[[[[[[1]]]]]]', '{"dup":1,"dup":2}', '["é", "\\u00e9"]',
        }
        for _, text in ipairs(texts) do
            local want = json.decode(text)
            assert.are.same(want, decode(text), text)
        end
    end)

    it("gives whole numbers within 2^53 as integers, others as floats", function()
        if not math.type then return end -- LuaJIT: one number type
        assert.are.equal("integer", math.type(decode("12")))
        assert.are.equal("integer", math.type(decode("1796554914951")))
        assert.are.equal("integer", math.type(decode("2.0e3")))
        assert.are.equal("float", math.type(decode("0.5")))
        assert.are.equal("float", math.type(decode("1e300")))
        assert.are.equal("integer", math.type(decode("9007199254740992")))
        assert.are.equal("float", math.type(decode("9007199254740995")))
        assert.are.equal("float", math.type(decode("1234567890123456789"))) -- read as a double
    end)

    it("keeps every byte of a string, NUL included", function()
        local all = {}
        for b = 1, 31 do all[#all + 1] = ("\\u%04x"):format(b) end
        all[#all + 1] = "\\u0000"
        local s = decode('"' .. table.concat(all) .. '"')
        assert.are.equal(32, #s)
        assert.are.equal("\0", s:sub(32))
        assert.are.equal("\1", s:sub(1, 1))
    end)

    it("reads null as nil: a missing key, a hole", function()
        assert.are.same({ b = 2 }, decode('{"a":null,"b":2}'))
        local t = decode('[1,null,3]')
        assert.are.same({ 1, nil, 3 }, { t[1], t[2], t[3] })
        assert.is_nil(decode("null"))
    end)

    it("stops copying below 32 levels, as the cJSON copy did", function()
        local deep = ("["):rep(40) .. "7" .. ("]"):rep(40)
        local t, depth = decode(deep), 0
        while type(t) == "table" do t, depth = t[1], depth + 1 end
        assert.are.equal(33, depth) -- levels 0..32 are tables, 33 is nil
        assert.is_nil(t)
        t = decode('{"a":1,"deep":' .. deep .. ',"b":2}') -- reading goes on after it
        assert.are.same({ 1, 2, "table" }, { t.a, t.b, type(t.deep) })
    end)

    it("refuses text that is not one JSON value", function()
        local bad = { "", " ", "{", "[1,", '{"a"}', '{"a":}', '{a:1}', "[1 2]", "tru", "nul", "-",
                      '"open', '"bad \\x escape"', '"\\u12"', '"\\ud83d"', '"\\ude00"', '"\\ud83d\\u0041"',
                      '"tab\tinside"', "1 2", "{} x", "[1]]", '{"a":1,}', "[,]" }
        for _, text in ipairs(bad) do
            assert.is_nil(decode(text), text)
        end
    end)

    it("round-trips random values through dkjson", function()
        local seed = 12345
        local function rnd(n) -- small LCG, the same on both hosts
            seed = (seed * 1103515245 + 12345) % 2147483648
            return seed % n + 1
        end
        local function value(depth)
            local k = rnd(depth > 3 and 4 or 6)
            if k == 1 then return rnd(2000) - 1000 end
            if k == 2 then return (rnd(2000000) - 1000000) / 1024 end
            if k == 3 then
                local b = {}
                for i = 1, rnd(12) - 1 do b[i] = string.char(rnd(127)) end
                return table.concat(b) .. "é€😀"
            end
            if k == 4 then return rnd(2) == 1 end
            local t = {}
            if k == 5 then
                for i = 1, rnd(5) - 1 do t[i] = value(depth + 1) end
            else
                for _ = 1, rnd(5) - 1 do t["k" .. rnd(100)] = value(depth + 1) end
            end
            return t
        end
        for _ = 1, 300 do
            local v = value(0)
            local text = json.encode(v)
            assert.are.same(v, decode(text), text)
        end
    end)

    it("reaches Lua through snapshots and host function arguments", function()
        local meta = { note = 'a "quoted" \\ line\nnext\ttab\1', nested = { list = { 1, 2.5, -3 }, yes = true } }
        local e = H.engine("policy: {plans: {p: {default: true}}}")
        assert.are.same(meta, e:create_customer("c", "p", { metadata = meta }).metadata)
        assert.are.same(meta, e:customer("c").metadata)
        local seen
        e:on("customer-set", function(ev) seen = ev.metadata end)
        e:create_customer("c", "p", { metadata = meta })
        assert.are.same(meta, seen)
    end)
end)
