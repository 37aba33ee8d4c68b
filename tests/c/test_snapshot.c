/* test_snapshot.c: a customer without JSON (limitr_customer_view,
 * limitr_customer_meter_at) says what its JSON snapshot says. */
#include "harness.h"
#include "limitr.h"

static const char policy_yaml[] =
    "policy:\n"
    "  credits: {t: {}}\n"
    "  plans:\n"
    "    p:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        chat: {limit: {credit: t, value: 10}}\n"
    "        seen: {limit: {credit: t, mode: observe}}\n"
    "        snip: {limit: {credit: t, value: 'function(c) return 3 end'}}\n"
    "    q:\n"
    "      entitlements:\n"
    "        other: {limit: {credit: t, value: 1}}\n";

TEST(view_matches_the_snapshot)
{
    limitr_engine *e = NULL;
    limitr_customer_info info;
    limitr_meter_info m;
    const char *snap;
    size_t i;
    int seen_chat = 0, seen_observe = 0, seen_snippet = 0;
    ASSERT_EQ(limitr_new(policy_yaml, strlen(policy_yaml), "yaml", NULL, &e),
              LIMITR_OK);
    ASSERT_EQ(
        limitr_create_customer(e, "org", NULL, "{\"type\": \"org\"}", NULL),
        LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL,
                                     "{\"refs\": [\"org\"], \"alt_ids\": "
                                     "[\"c@x\"], \"metadata\": {\"k\": [1]}}",
                                     NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "chat", 4, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer_override(e, "c", "chat", "{\"value\": 20}",
                                              NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_customer(e, "c@x", &snap), LIMITR_OK);
    ASSERT_CONTAINS(snap, "\"chat\":{\"credit\":\"t\",\"value\":4,\"limit\":"
                          "20,\"remaining\":16,\"overhead\":0,\"started\":");
    ASSERT_EQ(limitr_customer_view(e, "c@x", &info), LIMITR_OK);
    ASSERT_STR(info.id, "c");
    ASSERT_STR(info.plan, "p");
    ASSERT_STR(info.own_plan, ""); /* follows its ref */
    ASSERT_STR(info.type, "user");
    ASSERT_STR(info.label, "User");
    ASSERT_EQ(info.n_refs, 1);
    ASSERT_STR(info.refs[0], "org");
    ASSERT_EQ(info.n_alt_ids, 1);
    ASSERT_STR(info.alt_ids[0], "c@x");
    ASSERT_STR(info.metadata_json, "{\"k\":[1]}");
    ASSERT_CONTAINS(info.overrides_json, "\"chat\":{\"credit\":\"t\","
                                         "\"value\":20");
    ASSERT_EQ(info.n_meters, 3);
    for (i = 0; i < info.n_meters; i++) {
        ASSERT_EQ(limitr_customer_meter_at(e, "c", i, &m), LIMITR_OK);
        ASSERT_STR(m.credit, "t");
        if (strcmp(m.entitlement, "chat") == 0) {
            seen_chat = 1;
            ASSERT_NUM(m.value, 4);
            ASSERT(m.has_limit);
            ASSERT_NUM(m.limit, 20);
            ASSERT_NUM(m.remaining, 16);
        } else if (strcmp(m.entitlement, "seen") == 0) {
            seen_observe = !m.has_limit;
        } else if (strcmp(m.entitlement, "snip") == 0) {
            seen_snippet = !m.has_limit; /* a snippet limit is left out */
        }
    }
    ASSERT(seen_chat && seen_observe && seen_snippet);
    ASSERT_EQ(limitr_customer_meter_at(e, "c", 3, &m), LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "has 3 meters, no meter 3");
    /* A meter whose entitlement left the plan: the stored state. */
    ASSERT_EQ(limitr_remove_customer_override(e, "c", "chat"), LIMITR_OK);
    ASSERT_EQ(limitr_set_customer_plan(e, "c", "q", 0), LIMITR_OK);
    ASSERT_EQ(limitr_customer_view(e, "c", &info), LIMITR_OK);
    ASSERT_EQ(info.n_meters, 4);
    ASSERT_EQ(limitr_customer_meter_at(e, "c", 0, &m), LIMITR_OK);
    ASSERT_STR(m.entitlement, "chat");
    ASSERT(m.credit == NULL);
    ASSERT_NUM(m.value, 4);
    ASSERT_EQ(limitr_customer_view(e, "nobody", &info), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_customer");
    ASSERT_EQ(limitr_customer_view(e, "org", &info), LIMITR_OK);
    ASSERT(info.overrides_json == NULL && info.metadata_json == NULL);
    limitr_free(e);
}

int main(void)
{
    RUN(view_matches_the_snapshot);
    return HARNESS_EXIT();
}
