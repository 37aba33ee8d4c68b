/* test_pricing.c: the pricing models (docs/policy.md 8) with the numbers
 * of upstream's tests: price_of(q, offset) and quantity_for(runes, offset)
 * at billable positions, included units (negative positions) and refunds. */
#include <string.h>

#include "harness.h"
#include "policy.h"

static lnum num(const char *s)
{
    lnum v = 0;
    limitr__lnum_parse(s, strlen(s), &v);
    return v;
}

/* A credit of `model` with the bands (up_to "" for the open one). */
static lp_credit credit(pricing_model model, lp_tier *tiers,
                        const char *const *up_to, const char *const *rates,
                        size_t n)
{
    lp_credit cr;
    size_t i;
    memset(&cr, 0, sizeof cr);
    cr.model = model;
    for (i = 0; i < n; i++) {
        memset(&tiers[i], 0, sizeof tiers[i]);
        tiers[i].open = up_to[i][0] == '\0';
        tiers[i].up_to = tiers[i].open ? 0 : num(up_to[i]);
        tiers[i].price.set = 1;
        tiers[i].price.runes = num(rates[i]);
    }
    cr.tiers = tiers;
    cr.n_tiers = n;
    return cr;
}

static const char *const UP_TO[] = {"100", "1000", ""};
static const char *const RATES[] = {"0.01", "0.005", "0.001"};
static const char *const FEES[] = {"5", "20", "50"};

static const char *price(const lp_credit *cr, const char *q, const char *o,
                         char *buf)
{
    lnum r;
    if (limitr__price_of(cr, num(q), num(o), &r) != 0) return "fails";
    return limitr__lnum_format(r, buf);
}

static const char *quantity(const lp_credit *cr, const char *r, const char *o,
                            char *buf)
{
    lnum q;
    if (limitr__quantity_for(cr, num(r), num(o), &q) != 0) return "fails";
    return limitr__lnum_format(q, buf);
}

TEST(tiered)
{
    lp_tier t[3];
    lp_credit cr = credit(PRICING_TIERED, t, UP_TO, RATES, 3);
    char b[64];
    ASSERT_STR(price(&cr, "100", "0", b), "1");
    ASSERT_STR(price(&cr, "1000", "0", b), "5.5");
    ASSERT_STR(price(&cr, "2000", "0", b), "6.5");
    ASSERT_STR(price(&cr, "100", "100", b), "0.5");
    ASSERT_STR(price(&cr, "50", "75", b), "0.375");
    ASSERT_STR(price(&cr, "-5", "100", b), "-0.05");
    ASSERT_STR(price(&cr, "10", "-5", b), "0.1"); /* 5 included, 5 billed */
    ASSERT_STR(quantity(&cr, "1.5", "0", b), "200");
    ASSERT_STR(quantity(&cr, "0.5", "100", b), "100");
    ASSERT_STR(quantity(&cr, "6.5", "0", b), "2000");
    ASSERT_STR(quantity(&cr, "0.1", "-5", b), "10");
    ASSERT_STR(quantity(&cr, "-0.05", "100", b), "-5");
    t[0].price.runes = 0; /* a free first band: a refund buys nothing */
    ASSERT_STR(quantity(&cr, "-0.05", "100", b), "fails");
}

TEST(volume)
{
    lp_tier t[3];
    lp_credit cr = credit(PRICING_VOLUME, t, UP_TO, RATES, 3);
    char b[64];
    ASSERT_STR(price(&cr, "100", "0", b), "1");
    ASSERT_STR(price(&cr, "101", "0", b), "0.505");
    ASSERT_STR(price(&cr, "1001", "0", b), "1.001");
    ASSERT_STR(price(&cr, "1", "100", b), "-0.495");
    ASSERT_STR(price(&cr, "10", "200", b), "0.05");
    /* from 100 (t = 1), 0.5 more: t(1500) = 1.5, band 3 being cheaper */
    ASSERT_STR(quantity(&cr, "0.5", "100", b), "1400");
    /* 1 rune buys 200 at 0.005 (t(200) = 1); band 3 starts at
       t(1000+) = 1.0+, past it */
    ASSERT_STR(quantity(&cr, "1", "0", b), "200");
    ASSERT_STR(quantity(&cr, "1.001", "0", b), "1001");
}

TEST(stairstep)
{
    lp_tier t[3];
    lp_credit cr = credit(PRICING_STAIRSTEP, t, UP_TO, FEES, 3);
    char b[64];
    ASSERT_STR(price(&cr, "1", "0", b), "5");
    ASSERT_STR(price(&cr, "100", "0", b), "5");
    ASSERT_STR(price(&cr, "101", "0", b), "20");
    ASSERT_STR(price(&cr, "50", "10", b), "0");
    ASSERT_STR(price(&cr, "1", "100", b), "15");
    ASSERT_STR(quantity(&cr, "15", "100", b), "900");
    ASSERT_STR(quantity(&cr, "10", "100", b), "0");
    ASSERT_STR(quantity(&cr, "45", "100", b), "1000000000000000"); /* top */
    ASSERT_STR(quantity(&cr, "4", "0", b), "0");    /* band 1's fee is 5 */
    ASSERT_STR(quantity(&cr, "4", "-7", b), "7");   /* included: free */
    ASSERT_STR(quantity(&cr, "-5", "100", b), "0"); /* fees buy no refund */
}

TEST(flat)
{
    lp_credit cr;
    char b[64];
    memset(&cr, 0, sizeof cr);
    cr.model = PRICING_FLAT;
    cr.price.set = 1;
    cr.price.runes = num("0.01");
    ASSERT_STR(price(&cr, "100", "5000", b), "1");
    ASSERT_STR(price(&cr, "100", "-5000", b), "1");
    ASSERT_STR(quantity(&cr, "1", "0", b), "100");
    cr.price.runes = 0;
    ASSERT_STR(quantity(&cr, "1", "0", b), "fails"); /* nothing buys it */
}

int main(void)
{
    RUN(tiered);
    RUN(volume);
    RUN(stairstep);
    RUN(flat);
    return harness_failures != 0;
}
