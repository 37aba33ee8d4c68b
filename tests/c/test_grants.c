/* test_grants.c: top-ups and grants from C (docs/engine.md 15):
 * included grants paying past a hard limit, soft overage covered first,
 * the calls on grants, the reads with and without grants, bad input. */
#include <stdlib.h>

#include "engine_of.h"
#include "harness.h"
#include "recorder.h"

static const char policy_yaml[] =
    "policy:\n"
    "  credits:\n"
    "    token: {price: {amount: 0.01}}\n"
    "  plans:\n"
    "    p:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        chat: {limit: {credit: token, value: 0}}\n"
    "        soft: {limit: {credit: token, value: 10, mode: soft}}\n"
    "      topups:\n"
    "        pack: {credit: token, value: 100, included: true}\n"
    "        extra: {credit: token, value: 4, expires_after: 1day}\n"
    "    bare:\n"
    "      entitlements:\n"
    "        soft: {limit: {credit: token, value: 10, mode: soft}}\n";

static double remaining_credit(limitr_engine *e, const char *id)
{
    double out = -1;
    if (limitr_credit_remaining(e, id, "token", &out) != LIMITR_OK) return -1;
    return out;
}

TEST(included_grant_runs_a_hard_limit_past_its_value)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    recorder r = {{0}, {0}, 0};
    limitr_read_opts no_grants = {0, 0, 1};
    double v = -1;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "u", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_NUM(remaining_credit(e, "u"), 100);
    ASSERT_EQ(limitr_limit(e, "u", "chat", &v), LIMITR_OK);
    ASSERT_NUM(v, 100);
    ASSERT_EQ(limitr_limit_opts(e, "u", "chat", &no_grants, &v), LIMITR_OK);
    ASSERT_NUM(v, 0);
    limitr_on(e, "meter-changed", record, &r, NULL);
    ASSERT_EQ(limitr_allow(e, "u", "chat", 60, NULL), LIMITR_OK);
    ASSERT_CONTAINS(r.last, "\"grant_value_applied\":60");
    ASSERT_NUM(remaining_credit(e, "u"), 40);
    ASSERT_EQ(limitr_check(e, "u", "chat", 41), LIMITR_DENIED);
    ASSERT_EQ(limitr_allow(e, "u", "chat", 50, NULL), LIMITR_DENIED);
    ASSERT_NUM(remaining_credit(e, "u"), 40);
    ASSERT_EQ(limitr_allow(e, "u", "chat", 40, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "chat", 1, NULL), LIMITR_DENIED);
    /* drained and gone; owed once per plan, so not granted again */
    ASSERT_EQ(limitr_ensure_included_topups(e, "u", 1), LIMITR_OK);
    ASSERT_NUM(remaining_credit(e, "u"), 0);
    limitr_free(e);
}

TEST(soft_overage_is_drawn_from_grants_first)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    recorder r = {{0}, {0}, 0};
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "u", "bare", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_grant(
                  e, "u", "{\"credit\": \"token\", \"value\": 4}", NULL),
              LIMITR_OK);
    limitr_on(e, "meter-overage", record, &r, NULL);
    ASSERT_EQ(limitr_allow(e, "u", "soft", 13, NULL), LIMITR_OK);
    ASSERT_EQ(r.count, 0); /* 3 past the limit, all covered */
    ASSERT_EQ(limitr_allow(e, "u", "soft", 4, NULL), LIMITR_OK);
    ASSERT_EQ(r.count, 1);
    ASSERT_CONTAINS(r.last, "\"overage\":3");
    ASSERT_CONTAINS(r.last, "\"grant_value_applied\":1");
    ASSERT_CONTAINS(r.last, "\"overage_price\":0.03");
    ASSERT_NUM(remaining_credit(e, "u"), 0);
    limitr_free(e);
}

TEST(the_calls)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    recorder r = {{0}, {0}, 0};
    const char *json = NULL;
    double v;
    ASSERT(e != NULL);
    limitr_set_time(e, 0);
    ASSERT_EQ(limitr_create_customer(e, "u", NULL, NULL, NULL), LIMITR_OK);
    limitr_on(e, "customer-topup-granted", record, &r, NULL);
    ASSERT_EQ(limitr_apply_customer_topup(e, "u", "extra"), LIMITR_OK);
    ASSERT_CONTAINS(r.last, "\"topup_name\":\"extra\"");
    ASSERT_CONTAINS(r.last, "\"plan_name\":\"p\"");
    ASSERT_NUM(remaining_credit(e, "u"), 104);
    limitr_set_time(e, 86400001); /* extra expired */
    ASSERT_NUM(remaining_credit(e, "u"), 100);
    ASSERT_EQ(limitr_apply_customer_topup(e, "u", "nope"), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_topup");
    ASSERT_EQ(limitr_apply_customer_topup(e, "ghost", "extra"),
              LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_add_customer_grant(
                  e, "u", "{\"credit\": \"usd\", \"value\": 1, \"id\": \"g\"}",
                  &json),
              LIMITR_OK);
    ASSERT_CONTAINS(json, "\"id\":\"g\"");
    ASSERT_EQ(limitr_customer_grants(e, "u", &json), LIMITR_OK);
    ASSERT_CONTAINS(json, "\"credit\":\"usd\"");
    ASSERT_CONTAINS(json, "\"topup\":\"pack\"");
    /* a rune is 100 tokens at 0.01 */
    ASSERT_NUM(remaining_credit(e, "u"), 200);
    ASSERT_EQ(limitr_credit_remaining(e, "u", "usd", &v), LIMITR_OK);
    ASSERT_NUM(v, 2);
    ASSERT_EQ(limitr_remove_customer_grant(e, "u", "g"), LIMITR_OK);
    ASSERT_EQ(limitr_remove_customer_grant(e, "u", "g"), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_grant");
    ASSERT_EQ(limitr_credit_remaining(e, "u", "nope", &v), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_credit_remaining(e, "ghost", "usd", &v), LIMITR_NOT_FOUND);
    limitr_free(e);
}

TEST(bad_grants_change_nothing)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    const char *json = NULL;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "u", "bare", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_grant(e, "u",
                                        "{\"credit\": \"nope\", \"value\": "
                                        "-1, \"rollover_pct\": 3}",
                                        NULL),
              LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "grant.credit");
    ASSERT_CONTAINS(limitr_last_error(e), "grant.value");
    ASSERT_CONTAINS(limitr_last_error(e), "grant.rollover_pct");
    ASSERT_EQ(limitr_add_customer_grant(e, "u", "[1]", NULL), LIMITR_INVALID);
    ASSERT_EQ(limitr_add_customer_grant(e, "u", "{", NULL), LIMITR_INVALID);
    ASSERT_EQ(limitr_add_customer_grant(e, "u", NULL, NULL), LIMITR_INVALID);
    ASSERT_EQ(limitr_customer_grants(e, "u", &json), LIMITR_OK);
    ASSERT_STR(json, "[]");
    limitr_free(e);
}

/* apply_customer_topup refuses what reconciliation would take back */
TEST(an_included_topup_is_applied_only_within_its_scopes)
{
    static const char scoped_yaml[] =
        "policy:\n"
        "  credits: {token: {}}\n"
        "  plans:\n"
        "    p:\n"
        "      default: true\n"
        "      topups:\n"
        "        pool: {credit: token, value: 50, included: true,\n"
        "               included_scopes: [org]}\n";
    limitr_engine *e = engine_of(scoped_yaml, NULL);
    const char *json = NULL;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "acme", NULL, "{\"type\": \"org\"}",
                                     NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "bob", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_apply_customer_topup(e, "bob", "pool"), LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "topup_not_for_type");
    ASSERT_CONTAINS(limitr_last_error(e), "'pool'");
    ASSERT_CONTAINS(limitr_last_error(e), "'user'");
    ASSERT_EQ(limitr_customer_grants(e, "bob", &json), LIMITR_OK);
    ASSERT_STR(json, "[]");
    ASSERT_EQ(limitr_apply_customer_topup(e, "acme", "pool"), LIMITR_OK);
    limitr_free(e);
}

/* A grant worth more than an amount can hold, once converted, reads as the
 * most an amount can be (10^20), as the draw uses it; a grant that does not
 * convert at all still counts for nothing. */
TEST(a_grant_too_large_to_convert_reads_as_the_most)
{
    limitr_engine *e = engine_of(
        "policy:\n"
        "  exchange: {store: {value: 0.001, currency: rune}}\n"
        "  credits:\n"
        "    seat: {price: {amount: 2}}\n"
        "    store: {}\n"
        "    mb: {price: {amount: 0.001}}\n"
        "    plain: {}\n"
        "  plans:\n"
        "    p:\n"
        "      default: true\n"
        "      entitlements: {s: {limit: {credit: store, value: 1000}}}\n",
        NULL);
    const char *json = NULL;
    double v = -1;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "u", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_grant(
                  e, "u", "{\"credit\": \"plain\", \"value\": 1e20}", &json),
              LIMITR_OK);
    ASSERT_EQ(limitr_remaining(e, "u", "s", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 1000);
    /* 1e10 seats are 2e10 runes, 2e13 store: within range */
    ASSERT_EQ(limitr_add_customer_grant(
                  e, "u", "{\"credit\": \"seat\", \"value\": 1e10}", &json),
              LIMITR_OK);
    ASSERT_EQ(limitr_credit_remaining(e, "u", "store", &v), LIMITR_OK);
    ASSERT_NUM(v, 2e13);
    /* 1e20 seats are past the range in runes (2e20) */
    ASSERT_EQ(limitr_add_customer_grant(
                  e, "u", "{\"credit\": \"seat\", \"value\": 1e20}", &json),
              LIMITR_OK);
    ASSERT_EQ(limitr_credit_remaining(e, "u", "store", &v), LIMITR_OK);
    ASSERT_NUM(v, 1e20);
    ASSERT_EQ(limitr_remaining(e, "u", "s", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 1e20);
    ASSERT_EQ(limitr_check(e, "u", "s", 1e19), LIMITR_OK);
    /* what money buys of a priced credit stops at 1e15 units (unlimited) */
    ASSERT_EQ(limitr_credit_remaining(e, "u", "mb", &v), LIMITR_OK);
    ASSERT_NUM(v, 1e15);
    limitr_free(e);
}

int main(void)
{
    RUN(included_grant_runs_a_hard_limit_past_its_value);
    RUN(soft_overage_is_drawn_from_grants_first);
    RUN(the_calls);
    RUN(bad_grants_change_nothing);
    RUN(an_included_topup_is_applied_only_within_its_scopes);
    RUN(a_grant_too_large_to_convert_reads_as_the_most);
    return harness_failures != 0;
}
