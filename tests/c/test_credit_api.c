/* test_credit_api.c: credits changed at run time (docs/engine.md 11):
 * limitr_set_credit reprices later calls only, adds a credit, refuses a bad
 * one with its path and changes nothing; limitr_credit reads one back. */
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
    "        chat: {limit: {credit: token, value: 1000000, mode: soft}}\n";

/* What the customer's observe-only rune cap counted: its spend. */
static double spent(limitr_engine *e)
{
    const char *json = NULL;
    if (limitr_customer_cap(e, "u", "spend", &json) != LIMITR_OK) return -1;
    {
        const char *at = strstr(json, "\"meter_value\":");
        return at != NULL ? atof(at + 14) : -1;
    }
}

TEST(a_new_price_applies_to_later_calls_only)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    recorder r = {{0}, {0}, 0};
    const char *json = NULL;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "u", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_cap(e, "u",
                                      "{\"id\": \"spend\", \"value\": 1000, "
                                      "\"observe_only\": true}",
                                      NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "policy-reloaded", record, &r, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "chat", 10, NULL), LIMITR_OK);
    ASSERT_NUM(spent(e), 0.1);
    ASSERT_EQ(limitr_set_credit(e, "token", "{\"price\": {\"amount\": 0.02}}"),
              LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "chat", 10, NULL), LIMITR_OK);
    ASSERT_NUM(spent(e), 0.3); /* 0.1 kept, then 10 at 0.02 */
    ASSERT_EQ(r.count, 0);     /* not a reload of the host's */
    ASSERT_EQ(limitr_credit(e, "token", &json), LIMITR_OK);
    ASSERT_STR(json, "{\"price\":{\"amount\":0.02}}");
    limitr_free(e);
}

TEST(a_credit_can_be_added_and_used)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    const char *json = NULL;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_credit(e, "seat", &json), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_credit");
    ASSERT_EQ(limitr_set_credit(e, "seat", "{\"label\": \"Seat\"}"), LIMITR_OK);
    ASSERT_EQ(limitr_credit(e, "seat", &json), LIMITR_OK);
    ASSERT_STR(json, "{\"label\":\"Seat\"}");
    limitr_free(e);
}

TEST(a_bad_credit_is_refused_with_its_path_and_changes_nothing)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    const char *json = NULL;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_set_credit(e, "token", "{\"price\": {\"amount\": -1}}"),
              LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "invalid_policy");
    ASSERT_STR(limitr_last_error(e),
               "credits.token.price.amount: must not be negative, got -1");
    ASSERT_EQ(limitr_credit(e, "token", &json), LIMITR_OK);
    ASSERT_STR(json, "{\"price\":{\"amount\":0.01}}");
    ASSERT_EQ(limitr_set_credit(e, "token", "{\"price\": "), LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "set_credit: ");
    ASSERT_EQ(limitr_set_credit(e, "token", "[1]"), LIMITR_INVALID);
    ASSERT_STR(limitr_last_error(e),
               "set_credit: the credit must be an object");
    ASSERT_EQ(limitr_set_credit(e, "", "{}"), LIMITR_INVALID);
    ASSERT_EQ(limitr_set_credit(e, NULL, "{}"), LIMITR_INVALID);
    ASSERT_EQ(limitr_set_credit(e, "token", NULL), LIMITR_INVALID);
    ASSERT_EQ(limitr_set_credit(e, "bad name!", "{}"), LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "bad name!");
    ASSERT_EQ(limitr_credit(e, "token", &json), LIMITR_OK);
    ASSERT_STR(json, "{\"price\":{\"amount\":0.01}}");
    limitr_free(e);
}

int main(void)
{
    RUN(a_new_price_applies_to_later_calls_only);
    RUN(a_credit_can_be_added_and_used);
    RUN(a_bad_credit_is_refused_with_its_path_and_changes_nothing);
    return harness_failures ? 1 : 0;
}
