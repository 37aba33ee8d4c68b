-- The runnable examples print what they promise.
local function run(script)
    local root = os.getenv("LIMITR_SOURCE_DIR") or "."
    local build = os.getenv("LIMITR_BUILD_DIR") or (root .. "/build")
    local cmd = ("cd %q && LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH=%q lua5.4 %s 2>&1")
        :format(root, build .. "/?.so;;", script)
    local pipe = assert(io.popen(cmd))
    local out = pipe:read("a")
    local ok = pipe:close()
    assert.is_true(ok, out)
    return out
end

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
