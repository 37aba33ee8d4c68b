/* test_caps.c: spend caps from C (docs/engine.md 16): the shared org cap
 * example, its events, the calls and bad caps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_of.h"
#include "harness.h"
#include "recorder.h"

static const char policy_yaml[] =
    "policy:\n"
    "  credits:\n"
    "    token: {price: {amount: 0.1}}\n"
    "  plans:\n"
    "    p:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        chat: {limit: {credit: token, value: 0, mode: soft}}\n";

static double cap_used(limitr_engine *e, const char *id, const char *cap)
{
    const char *json = NULL;
    const char *at;
    if (limitr_customer_cap(e, id, cap, &json) != LIMITR_OK) return -1;
    at = strstr(json, "\"meter_value\":");
    return at != NULL ? atof(at + 14) : -1;
}

TEST(a_shared_org_cap_stops_a_user_two_refs_below)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    recorder r = {{0}, {0}, 0};
    const char *json = NULL;
    ASSERT(e != NULL);
    ASSERT_EQ(
        limitr_create_customer(e, "acme", NULL, "{\"type\": \"org\"}", NULL),
        LIMITR_OK);
    ASSERT_EQ(
        limitr_create_customer(
            e, "eng", NULL, "{\"type\": \"team\", \"refs\": [\"acme\"]}", NULL),
        LIMITR_OK);
    ASSERT_EQ(
        limitr_create_customer(e, "alice", NULL, "{\"refs\": [\"eng\"]}", NULL),
        LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_cap(
                  e, "acme",
                  "{\"value\": 1, \"id\": \"org_budget\", \"shared\": true}",
                  &json),
              LIMITR_OK);
    ASSERT_CONTAINS(json, "\"remaining\":1");
    ASSERT_EQ(limitr_allow(e, "alice", "chat", 9, NULL), LIMITR_OK);
    ASSERT_NUM(cap_used(e, "acme", "org_budget"), 0.9);
    limitr_on(e, "cap-limit", record, &r, NULL);
    ASSERT_EQ(limitr_allow(e, "alice", "chat", 2, NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "cap");
    ASSERT_EQ(r.count, 1);
    ASSERT_CONTAINS(r.last, "\"price_diff\":0.2");
    ASSERT_CONTAINS(r.last, "\"id\":\"org_budget\"");
    ASSERT_EQ(limitr_check(e, "alice", "chat", 1), LIMITR_OK);
    ASSERT_EQ(limitr_check(e, "alice", "chat", 2), LIMITR_DENIED);
    limitr_on(e, "cap-threshold-crossed", record, &r, NULL);
    ASSERT_EQ(limitr_allow(e, "alice", "chat", 1, NULL), LIMITR_OK);
    ASSERT_EQ(r.count, 2);
    ASSERT_CONTAINS(r.names, "cap-threshold-crossed");
    ASSERT_EQ(limitr_reset_customer_cap(e, "acme", "org_budget", 1), LIMITR_OK);
    ASSERT_NUM(cap_used(e, "acme", "org_budget"), 0);
    ASSERT_EQ(limitr_remove_customer_cap(e, "acme", "org_budget", 1),
              LIMITR_OK);
    ASSERT_EQ(limitr_remove_customer_cap(e, "acme", "org_budget", 1),
              LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_cap");
    ASSERT_EQ(limitr_customer_caps(e, "acme", &json), LIMITR_OK);
    ASSERT_STR(json, "[]");
    limitr_free(e);
}

TEST(bad_caps_change_nothing)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    const char *json = NULL;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_cap(
                  e, "c", "{\"credit\": \"nope\", \"oops\": 1}", NULL),
              LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "cap.credit");
    ASSERT_CONTAINS(limitr_last_error(e), "'value'");
    ASSERT_CONTAINS(limitr_last_error(e), "oops");
    ASSERT_EQ(limitr_add_customer_cap(e, "c", "[]", NULL), LIMITR_INVALID);
    ASSERT_EQ(limitr_add_customer_cap(e, "c", "{", NULL), LIMITR_INVALID);
    ASSERT_EQ(limitr_add_customer_cap(e, "ghost", "{\"value\": 1}", NULL),
              LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_customer_caps(e, "c", &json), LIMITR_OK);
    ASSERT_STR(json, "[]");
    ASSERT_EQ(limitr_customer_cap(e, "c", "x", &json), LIMITR_NOT_FOUND);
    limitr_free(e);
}

/* A customer with n refs to customers "<prefix>0".. (created), each holding
 * one shared cap "k" of 100 when caps is set. */
static void fan_out(limitr_engine *e, const char *id, const char *prefix,
                    int n, int caps)
{
    size_t size = 16 + 16 * (size_t)n;
    char name[16], *refs = malloc(size);
    int i;
    ASSERT(refs != NULL);
    snprintf(refs, size, "{\"refs\": [");
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%d", prefix, i);
        ASSERT_EQ(limitr_create_customer(e, name, NULL, NULL, NULL),
                  LIMITR_OK);
        if (caps)
            ASSERT_EQ(limitr_add_customer_cap(
                          e, name,
                          "{\"value\": 100, \"shared\": true, \"id\": \"k\"}",
                          NULL),
                      LIMITR_OK);
        snprintf(refs + strlen(refs), size - strlen(refs), "%s\"%s\"",
                 i > 0 ? ", " : "", name);
    }
    strcat(refs, "]}");
    ASSERT_EQ(limitr_create_customer(e, id, NULL, refs, NULL), LIMITR_OK);
    free(refs);
}

/* docs/engine.md 16.2: a call meets at most 256 caps and visits at most
 * 1,024 customers, the caller included; past either it is denied with
 * too_many_caps, never with a cap skipped, and nothing is counted. */
TEST(a_call_meets_at_most_256_caps_and_1024_customers)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    ASSERT(e != NULL);
    fan_out(e, "u", "o", 256, 1); /* 256 caps: at the bound */
    ASSERT_EQ(limitr_allow(e, "u", "chat", 1, NULL), LIMITR_OK);
    ASSERT_NUM(cap_used(e, "o255", "k"), 0.1);
    ASSERT_EQ(limitr_add_customer_cap(e, "u", "{\"value\": 100, \"id\": \"k\"}",
                                      NULL),
              LIMITR_OK); /* the caller's own: a 257th */
    ASSERT_EQ(limitr_allow(e, "u", "chat", 1, NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "too_many_caps");
    ASSERT_EQ(limitr_check(e, "u", "chat", 1), LIMITR_DENIED);
    ASSERT_NUM(cap_used(e, "o255", "k"), 0.1);
    ASSERT_NUM(cap_used(e, "u", "k"), 0);
    /* what no cap can refuse (forced usage, a settle) counts in all 257 */
    {
        limitr_call_opts forced = {NULL, 0, 1, 0, 0, NULL};
        uint64_t hold = 0;
        ASSERT_EQ(limitr_allow(e, "u", "chat", 1, &forced), LIMITR_OK);
        ASSERT_NUM(cap_used(e, "o255", "k"), 0.2);
        ASSERT_NUM(cap_used(e, "u", "k"), 0.1);
        ASSERT_EQ(limitr_remove_customer_cap(e, "u", "k", 1), LIMITR_OK);
        ASSERT_EQ(limitr_reserve_n(e, "u", 1, "chat", 4, 1, NULL, &hold),
                  LIMITR_OK);
        ASSERT_EQ(limitr_add_customer_cap(
                      e, "u", "{\"value\": 100, \"id\": \"k\"}", NULL),
                  LIMITR_OK);
        ASSERT_EQ(limitr_settle_n(e, "u", 1, "chat", 4, hold, 1, NULL),
                  LIMITR_OK);
        ASSERT_NUM(cap_used(e, "o255", "k"), 0.3);
        ASSERT_NUM(cap_used(e, "u", "k"), 0.1);
    }
    limitr_free(e);

    /* customers without caps count, once a shared cap exists anywhere */
    e = engine_of(policy_yaml, NULL);
    ASSERT(e != NULL);
    fan_out(e, "wide", "r", 1023, 0); /* 1,024 with the caller */
    ASSERT_EQ(limitr_create_customer(e, "org", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_cap(
                  e, "org", "{\"value\": 100, \"shared\": true}", NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "wide", "chat", 1, NULL), LIMITR_OK);
    fan_out(e, "wider", "s", 1024, 0);
    ASSERT_EQ(limitr_allow(e, "wider", "chat", 1, NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "too_many_caps");
    limitr_free(e);
}

int main(void)
{
    RUN(a_shared_org_cap_stops_a_user_two_refs_below);
    RUN(bad_caps_change_nothing);
    RUN(a_call_meets_at_most_256_caps_and_1024_customers);
    return harness_failures != 0;
}
