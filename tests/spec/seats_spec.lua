-- The seats example (examples/seats.lua) prints the seed's two lines.
local H = require "helpers"

describe("examples/seats.lua", function()
    it("prints the two seat-limit lines of the seed example", function()
        assert.are.equal(
            "FREE PLAN SEAT LIMIT HIT, current:  1  requested:  2\n" ..
            "FREE PLAN SEAT LIMIT HIT, current:  1  requested:  3\n", H.run_example("examples/seats.lua"))
    end)
end)
