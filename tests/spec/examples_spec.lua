-- The runnable examples print what they promise.
local run = require("helpers").run_example

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
