/* test_exchange.c: credits as money (docs/policy.md 8): flat prices,
 * exchange pairs, credit_exchange, and what the loader refuses. */
#include "engine_of.h"
#include "harness.h"

#include <stdlib.h>

static const char policy_yaml[] =
    "policy:\n"
    "  exchange:\n"
    "    grant_strategy: cheapest_first\n"
    "    euro: {value: 1.14, currency: usd}\n"
    "    abstract: {value: 1, currency: rune}\n"
    "    ai_tokens: {value: 1.25, currency: abstract}\n"
    "    ai_input_token: {value: 0.000006, currency: ai_tokens}\n"
    "    ai_output_token: {value: 0.00003, currency: ai_tokens}\n"
    "    mb_storage: {value: 0.00003, currency: abstract}\n"
    "    partner: {value: 0.5, currency: seat}\n"
    "    nothing: {value: 0, currency: rune}\n"
    "  credits:\n"
    "    seat: {price: {amount: 12, id: price_123}}\n"
    "    eu_seat: {price: {amount: 10, currency: euro}}\n"
    "    gift: {price: {amount: 0}}\n"
    "    plain: {}\n"
    "    free_start:\n"
    "      pricing_model: tiered\n"
    "      tiers: [{up_to: 10, price: {amount: 0}}, {price: {amount: 1}}]\n"
    "    tiered_tok:\n"
    "      pricing_model: tiered\n"
    "      tiers: [{price: {amount: 0.005}}, {up_to: 100, price: {amount: "
    "0.01}}]\n"
    "  plans: {p: {default: true, entitlements: {s: {limit: {credit: seat, "
    "value: 5}}}}}\n";

static double exchange(limitr_engine *e, const char *from, const char *to,
                       double v)
{
    double out = -1;
    if (limitr_credit_exchange(e, from, to, v, &out) != LIMITR_OK) return -1;
    return out;
}

TEST(the_spec_examples)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    ASSERT(e != NULL);
    ASSERT_NUM(exchange(e, "abstract", "ai_input_token", 1), 133333.333333333);
    ASSERT_NUM(exchange(e, "abstract", "ai_output_token", 1), 26666.666666667);
    ASSERT_NUM(exchange(e, "mb_storage", "ai_output_token", 50), 40);
    ASSERT_NUM(exchange(e, "euro", "rune", 10), 11.4);
    ASSERT_NUM(exchange(e, "usd", "rune", 3), 3); /* built in */
    ASSERT_NUM(exchange(e, "rune", "usd", 3), 3);
    ASSERT_NUM(exchange(e, "seat", "rune", 2), 24);      /* a priced credit */
    ASSERT_NUM(exchange(e, "eu_seat", "rune", 2), 22.8); /* price in euro */
    ASSERT_NUM(exchange(e, "rune", "seat", 30), 2.5);
    ASSERT_NUM(exchange(e, "partner", "rune", 1), 6); /* pair to a credit */
    ASSERT_NUM(exchange(e, "seat", "euro", 1), 10.526315789);
    ASSERT_NUM(exchange(e, "plain", "plain", 7), 7); /* same: the value */
    ASSERT_NUM(exchange(e, "euro", "rune", -10), -11.4);
    /* a tier credit, from position 0; its tiers written out of order */
    ASSERT_NUM(exchange(e, "usd", "tiered_tok", 1.5), 200);
    ASSERT_NUM(exchange(e, "tiered_tok", "rune", 200), 1.5);
    limitr_free(e);
}

TEST(what_does_not_convert)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    double out;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_credit_exchange(e, "plain", "rune", 1, &out),
              LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_currency");
    ASSERT_CONTAINS(limitr_last_error(e), "'plain' is neither rune");
    ASSERT_EQ(limitr_credit_exchange(e, "rune", "dollars", 1, &out),
              LIMITR_NOT_FOUND);
    ASSERT_CONTAINS(limitr_last_error(e), "'dollars'");
    ASSERT_EQ(limitr_credit_exchange(e, "rune", "gift", 1, &out),
              LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "no_exchange");
    ASSERT_EQ(limitr_credit_exchange(e, "rune", "nothing", 1, &out),
              LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "no_exchange");
    ASSERT_EQ(limitr_credit_exchange(e, "rune", "free_start", -1, &out),
              LIMITR_NOT_FOUND); /* its first band is free: no refund */
    ASSERT_STR(limitr_last_reason(e), "no_exchange");
    ASSERT_NUM(exchange(e, "gift", "rune", 5), 0); /* worth nothing */
    ASSERT_EQ(limitr_credit_exchange(e, "rune", "seat", 1.0 / 0.0, &out),
              LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "invalid_value");
    ASSERT_EQ(limitr_credit_exchange(e, "ai_input_token", "rune", 1e20, &out),
              LIMITR_OK);
    ASSERT_EQ(limitr_credit_exchange(e, "rune", "ai_input_token", 1e20, &out),
              LIMITR_INVALID); /* 1.3e25 tokens: past the range */
    ASSERT_EQ(limitr_credit_exchange(e, NULL, "rune", 1, &out), LIMITR_INVALID);
    limitr_free(e);
}

TEST(the_loader_refuses_what_cannot_be_money)
{
    ASSERT_CONTAINS(load_error("policy:\n  exchange:\n    a: {value: 1, "
                               "currency: b}\n    b: {value: 2, currency: "
                               "a}\n"),
                    "exchange.a: pair 'a' does not reach runes: its exchange "
                    "pairs form a cycle at 3:5");
    ASSERT_CONTAINS(load_error("policy:\n  exchange:\n    a: {currency: "
                               "nowhere}\n"),
                    "exchange.a: pair 'a' does not reach runes: 'nowhere' is "
                    "neither an exchange pair, a priced credit nor rune");
    ASSERT_CONTAINS(load_error("policy:\n  exchange:\n    a: {value: -1}\n"),
                    "exchange.a.value: must not be negative, got -1");
    ASSERT_CONTAINS(load_error("policy:\n  exchange:\n    a: {currency: "
                               "''}\n"),
                    "exchange.a.currency: must not be empty");
    ASSERT_CONTAINS(load_error("policy:\n  exchange:\n    rune: {value: "
                               "2}\n"),
                    "exchange.rune: 'rune' is the base currency");
    ASSERT_CONTAINS(load_error("policy:\n  exchange:\n    grant_strategy: "
                               "cheapest_frist\n"),
                    "exchange.grant_strategy: must be expires_first, "
                    "cheapest_first or valuable_first (did you mean "
                    "'cheapest_first'?)");
    ASSERT_CONTAINS(load_error("policy:\n  exchange:\n    a: {valeu: 1}\n"),
                    "exchange.a: unknown field 'valeu' (did you mean "
                    "'value'?)");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {price: "
                               "{amount: -2}}\n"),
                    "credits.c.price.amount: must not be negative, got -2");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {price: "
                               "{amount: 2, currency: yen}}\n"),
                    "credits.c.price.currency: currency 'yen' does not reach "
                    "runes: 'yen' is neither");
    ASSERT_CONTAINS(load_error("policy:\n  exchange:\n    via: {currency: "
                               "a}\n  credits:\n    a: {price: {amount: "
                               "2}}\n    c: {price: {amount: 2, currency: "
                               "via}}\n"),
                    "credits.c.price.currency: 'via' leads to credit 'a': a "
                    "price is in a currency that reaches runes through "
                    "exchange pairs");
    ASSERT_CONTAINS(load_error("policy:\n  exchange:\n    big: {value: "
                               "1e20}\n    huge: {value: 10, currency: "
                               "big}\n"),
                    "exchange.huge: pair 'huge' is worth more than 1e20 runes "
                    "per unit");
    ASSERT_CONTAINS(load_error("policy:\n  exchange:\n    a: {value: \"1.14 "
                               "MB\"}\n  credits:\n    c: {overhead_cost: "
                               "\"2 s\", price: {amount: \"12 s\"}}\n"),
                    "exchange.a.value: expected a plain number, got '1.14 MB' "
                    "(money has no units)");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {overhead_cost: "
                               "\"2 s\"}\n"),
                    "credits.c.overhead_cost: expected a plain number");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {price: "
                               "{amount: \"12 s\"}}\n"),
                    "credits.c.price.amount: expected a plain number");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {price: "
                               "{amount: 2, cost: 1}}\n"),
                    "credits.c.price: unknown field 'cost'");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {pricing_model: "
                               "tiered}\n"),
                    "credits.c: the tiered pricing model needs tiers");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {pricing_model: "
                               "tierd}\n"),
                    "credits.c.pricing_model: unknown pricing model 'tierd' "
                    "(flat, tiered, volume or stairstep) (did you mean "
                    "'tiered'?)");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {tiers: []}\n"),
                    "credits.c.tiers: tiers need a tier pricing_model");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {pricing_model: "
                               "volume, price: {amount: 1}, tiers: [{price: "
                               "{amount: 1}}]}\n"),
                    "credits.c.price: price is for the flat model");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {pricing_model: "
                               "tiered, tiers: [{up_to: 10, price: {amount: "
                               "1}}]}\n"),
                    "credits.c.tiers: exactly one tier has no up_to (the open "
                    "top band), got 0");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {pricing_model: "
                               "tiered, tiers: [{price: {amount: 1}}, {price: "
                               "{amount: 2}}]}\n"),
                    "got 2");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {pricing_model: "
                               "tiered, tiers: [{up_to: 5, price: {amount: "
                               "1}}, {up_to: 5, price: {amount: 2}}, {price: "
                               "{amount: 3}}]}\n"),
                    "credits.c.tiers: two tiers have up_to 5");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {pricing_model: "
                               "tiered, tiers: [{up_to: 0, price: {amount: "
                               "1}}, {price: {amount: 3}}]}\n"),
                    "credits.c.tiers[0].up_to: must be greater than 0, got 0");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {pricing_model: "
                               "tiered, tiers: [{up_to: 3}, {price: {amount: "
                               "3}}]}\n"),
                    "credits.c.tiers[0]: a tier needs a price");
    ASSERT_CONTAINS(load_error("policy:\n  credits:\n    c: {pricing_model: "
                               "stairstep, tiers: [{price: {amount: 3, "
                               "currency: yen}}]}\n"),
                    "credits.c.tiers[0].price.currency: currency 'yen' does "
                    "not reach runes");
    ASSERT_STR(load_error("policy:\n  exchange:\n    grant_strategy: ~\n"), "");
    ASSERT_STR(load_error("policy:\n  exchange:\n    usd: {value: 2, "
                          "currency: rune}\n    a: {}\n  credits:\n    c: "
                          "{pricing_model: flat, price: {amount: 1, "
                          "currency: usd, suffix: /year}}\n"),
               "");
}

/* A chain whose partial products pass 1e20 while the whole does not. */
TEST(long_chains_resolve_once_and_exactly)
{
    char *text = malloc(20000 * 40 + 100);
    limitr_engine *e;
    size_t len = 0;
    int i;
    e = engine_of("policy:\n  exchange:\n    a: {value: 1e15, currency: b}\n"
                  "    b: {value: 1e15, currency: c}\n"
                  "    c: {value: 0.000000000001, currency: rune}\n",
                  NULL);
    ASSERT(e != NULL);
    ASSERT_NUM(exchange(e, "a", "rune", 1), 1e18);
    limitr_free(e);
    /* 20,000 pairs in one chain: resolved once each, not per pair */
    ASSERT(text != NULL);
    len += (size_t)sprintf(text, "policy:\n  exchange:\n");
    for (i = 0; i < 20000; i++)
        len +=
            (size_t)sprintf(text + len, "    p%d: {value: 1, currency: %s%d}\n",
                            i, i + 1 < 20000 ? "p" : "rune", i + 1);
    text[len] = '\0';
    /* the last pair names "rune20000": no such name */
    ASSERT_CONTAINS(load_error(text), "'rune20000' is neither");
    free(text);
}

TEST(usd_may_be_redefined)
{
    limitr_engine *e = engine_of("policy:\n  exchange:\n    usd: {value: 2, "
                                 "currency: rune}\n    a: {value: 3}\n",
                                 NULL);
    ASSERT(e != NULL);
    ASSERT_NUM(exchange(e, "a", "rune", 1), 6); /* a -> usd (default) -> 2 */
    limitr_free(e);
}

int main(void)
{
    RUN(the_spec_examples);
    RUN(what_does_not_convert);
    RUN(the_loader_refuses_what_cannot_be_money);
    RUN(long_chains_resolve_once_and_exactly);
    RUN(usd_may_be_redefined);
    return harness_failures != 0;
}
