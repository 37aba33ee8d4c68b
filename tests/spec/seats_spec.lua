-- The seats example (examples/seats.lua) prints the seed's two lines.
describe("examples/seats.lua", function()
    it("prints the two seat-limit lines of the seed example", function()
        local root = os.getenv("LIMITR_SOURCE_DIR") or "."
        local build = os.getenv("LIMITR_BUILD_DIR") or (root .. "/build")
        local cmd = ("cd %q && LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH=%q lua5.4 examples/seats.lua 2>&1")
            :format(root, build .. "/?.so;;")
        local pipe = assert(io.popen(cmd))
        local out = pipe:read("a")
        local ok = pipe:close()
        assert.is_true(ok, out)
        assert.are.equal(
            "FREE PLAN SEAT LIMIT HIT, current:  1  requested:  2\n" ..
            "FREE PLAN SEAT LIMIT HIT, current:  1  requested:  3\n", out)
    end)
end)
