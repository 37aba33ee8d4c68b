/* test_bounds.c: every range the engine documents is checked, never
 * wrapped or truncated: amounts (+-1e20), the clock, IDs (UTF-8), call
 * options, overrides (no snippets), the plan lookup and the scope search
 * through refs, files. */
#include <stdint.h>

#include "harness.h"
#include "engine_of.h"
#include "limitr.h"

static const char big_yaml[] =
    "policy:\n"
    "  credits: {tok: {}}\n"
    "  plans:\n"
    "    p:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        hard: {limit: {credit: tok, value: 1e20}}\n"
    "        soft: {limit: {credit: tok, value: 1e20, mode: soft}}\n"
    "        seen: {limit: {credit: tok, mode: observe}}\n"
    "        snip:\n"
    "          limit:\n"
    "            credit: tok\n"
    "            value: 'function(c) return 10 end'\n";

/* 9e19 twice passes 1e20 in every mode: the second call is invalid_value
 * and the meter keeps 9e19 (it used to wrap to about -1.6e20). */
TEST(meter_values_never_wrap)
{
    static const char *const ents[] = {"hard", "soft", "seen"};
    limitr_engine *e = engine_of(big_yaml, NULL);
    size_t i;
    double v;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    for (i = 0; i < 3; i++) {
        ASSERT_EQ(limitr_allow(e, "c", ents[i], 9e19, NULL), LIMITR_OK);
        ASSERT_EQ(limitr_check(e, "c", ents[i], 9e19), LIMITR_INVALID);
        ASSERT_STR(limitr_last_reason(e), "invalid_value");
        ASSERT_EQ(limitr_allow(e, "c", ents[i], 9e19, NULL), LIMITR_INVALID);
        ASSERT_STR(limitr_last_reason(e), "invalid_value");
        ASSERT_EQ(limitr_value(e, "c", ents[i], NULL, &v), LIMITR_OK);
        ASSERT_NUM(v, 9e19);
        /* Down past -1e20 as well. */
        ASSERT_EQ(limitr_allow(e, "c", ents[i], -1e20, NULL), LIMITR_OK);
        ASSERT_EQ(limitr_allow(e, "c", ents[i], -1e20, NULL), LIMITR_INVALID);
        ASSERT_EQ(limitr_value(e, "c", ents[i], NULL, &v), LIMITR_OK);
        ASSERT_NUM(v, -1e19);
    }
    /* remaining = 1e20 - (-1e19) is past the range: it saturates at 1e20. */
    ASSERT_EQ(limitr_allow(e, "c", "hard", -9e19, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_remaining(e, "c", "hard", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 1e20);
    ASSERT_EQ(limitr_allow(e, "c", "hard", 1e21, NULL), LIMITR_INVALID);
    limitr_free(e);
}

TEST(call_options_are_checked)
{
    limitr_engine *e = engine_of(big_yaml, NULL);
    limitr_call_opts o;
    double v;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    memset(&o, 0, sizeof o);
    o.has_overhead = 1;
    o.overhead = -1;
    ASSERT_EQ(limitr_allow(e, "c", "hard", 1, &o), LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "opts.overhead");
    o.overhead = 0.0 / 0.0;
    ASSERT_EQ(limitr_allow(e, "c", "hard", 1, &o), LIMITR_INVALID);
    o.has_overhead = 0;
    o.event_json = "{\"order\": 1,}";
    ASSERT_EQ(limitr_allow(e, "c", "hard", 1, &o), LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "opts.event_json");
    ASSERT_EQ(limitr_value(e, "c", "hard", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 0);                       /* nothing was committed */
    o.event_json = "{\"order\": \"\xff\"}"; /* not UTF-8 */
    ASSERT_EQ(limitr_allow(e, "c", "hard", 1, &o), LIMITR_INVALID);
    o.event_json = "{\"order\": 1}";
    ASSERT_EQ(limitr_allow(e, "c", "hard", 1, &o), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "d", NULL,
                                     "{\"metadata\": {\"k\": \"\xc3\"}}", NULL),
              LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "not valid UTF-8");
    limitr_free(e);
}

/* Snapshots and payloads are JSON: an ID that is not UTF-8 is refused. */
TEST(ids_are_utf8)
{
    limitr_engine *e = engine_of(big_yaml, NULL);
    const char *snap = NULL;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "\xff\xfe", NULL, NULL, NULL),
              LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "UTF-8");
    ASSERT_EQ(limitr_create_customer(e, "a\xc0\xaf", NULL, NULL, NULL),
              LIMITR_INVALID); /* overlong '/' */
    ASSERT_EQ(limitr_create_customer(e, "\xed\xa0\x80", NULL, NULL, NULL),
              LIMITR_INVALID); /* a surrogate */
    ASSERT_EQ(limitr_create_customer(e, "caf\xc3\xa9", NULL,
                                     "{\"refs\": [\"x\"]}", &snap),
              LIMITR_OK);
    ASSERT_CONTAINS(snap, "\"id\":\"caf\xc3\xa9\"");
    ASSERT_EQ(limitr_set_alt_customer_id(e, "caf\xc3\xa9", "\x80"),
              LIMITR_INVALID);
    ASSERT_EQ(limitr_set_customer_refs(e, "caf\xc3\xa9", "[\"\xf8\"]"),
              LIMITR_INVALID);
    limitr_free(e);
}

/* The clock stays within +-8.64e15 ms; resets stay after now. */
TEST(the_clock_never_wraps)
{
    limitr_engine *e = engine_of(big_yaml, NULL);
    int64_t t = INT64_C(8640000000000000), reset;
    int i, refused = 0;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_set_time(e, INT64_MAX), LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "set_time");
    ASSERT_EQ(limitr_set_time(e, t), LIMITR_OK);
    ASSERT_EQ(limitr_advance(e, INT64_MAX), LIMITR_INVALID);
    ASSERT_EQ(limitr_now(e), t); /* unchanged */
    ASSERT_EQ(limitr_advance(e, INT64_MIN), LIMITR_INVALID);
    ASSERT_EQ(limitr_set_time(e, 0), LIMITR_OK);
    ASSERT_EQ(limitr_advance(e, INT64_C(1) << 61), LIMITR_INVALID);
    for (i = 0; i < 5; i++) /* 3 * 2^51 fits, 4 * 2^51 does not */
        refused += limitr_advance(e, INT64_C(1) << 51) == LIMITR_INVALID;
    ASSERT_EQ(refused, 2);
    ASSERT(limitr_now(e) == 3 * (INT64_C(1) << 51));
    limitr_free(e);

    e = engine_of("policy:\n"
                  "  credits: {t: {}}\n"
                  "  plans:\n"
                  "    p:\n"
                  "      default: true\n"
                  "      entitlements:\n"
                  "        d: {limit: {credit: t, value: 5, resets: true, "
                  "reset_inc: 1day}}\n"
                  "        m: {limit: {credit: t, value: 5, "
                  "resets: true, reset_sch: 'monthly:1'}}\n",
                  NULL);
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_set_time(e, t - 1000), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "d", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_resets(e, "c", "d", &reset), LIMITR_OK);
    ASSERT(reset > t - 1000);
    ASSERT_EQ(limitr_allow(e, "c", "m", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_resets(e, "c", "m", &reset), LIMITR_OK);
    ASSERT(reset > t - 1000);
    limitr_free(e);
}

/* Overrides are customer state: numbers only. A snippet is refused with a
 * clear error; a plan's snippets still apply under an override. */
TEST(overrides_hold_no_snippets)
{
    limitr_engine *e = engine_of(big_yaml, NULL);
    const char *json = NULL;
    double v;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(
        limitr_create_customer_override(
            e, "c", "hard", "{\"value\": \"function(c) return 2 end\"}", &json),
        LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e),
                    "overrides.c.hard.value: a Lua snippet is not allowed in "
                    "an override");
    ASSERT_EQ(limitr_create_customer_override(
                  e, "c", "hard",
                  "{\"on_exceed\": \"function(x) return true "
                  "end\"}",
                  &json),
              LIMITR_INVALID);
    /* The plan's value snippet carries over until the override sets one. */
    ASSERT_EQ(limitr_create_customer_override(e, "c", "snip",
                                              "{\"mode\": \"soft\"}", &json),
              LIMITR_OK);
    ASSERT_EQ(limitr_limit(e, "c", "snip", &v), LIMITR_OK);
    ASSERT_NUM(v, 10);
    ASSERT_EQ(limitr_create_customer_override(e, "c", "snip", "{\"value\": 3}",
                                              &json),
              LIMITR_OK);
    ASSERT_EQ(limitr_limit(e, "c", "snip", &v), LIMITR_OK);
    ASSERT_NUM(v, 3);
    ASSERT_CONTAINS(json, "\"mode\":\"soft\"");
    limitr_free(e);
}

/* A plan is found through 64 levels of refs, however many plan-less
 * customers the walk visits on the way. */
/* c65 on org_plan, then c64 ... c<last>, each with a ref to the one above
 * (each follows its ref at creation): 0, or the first failing status. */
static int chain_to_org(limitr_engine *e, int last)
{
    char id[16], refs[64];
    int i, status = limitr_create_customer(e, "c65", "org_plan", NULL, NULL);
    for (i = 64; status == LIMITR_OK && i >= last; i--) {
        snprintf(id, sizeof id, "c%d", i);
        snprintf(refs, sizeof refs, "{\"refs\": [\"c%d\"]}", i + 1);
        status = limitr_create_customer(e, id, NULL, refs, NULL);
    }
    return status;
}

TEST(plan_lookup_follows_levels_not_visits)
{
    limitr_engine *e = engine_of("policy:\n"
                                 "  credits: {t: {}}\n"
                                 "  plans:\n"
                                 "    free: {default: true}\n"
                                 "    org_plan: {}\n",
                                 NULL);
    const char *snap = NULL;
    char id[16], refs[1600];
    size_t n = 0;
    int i;
    ASSERT(e != NULL);
    /* 100 plan-less refs (own plan "": they follow a ref that is gone),
       then the org. */
    ASSERT_EQ(limitr_create_customer(e, "org", "org_plan", NULL, NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "gone", "org_plan", NULL, NULL),
              LIMITR_OK);
    n += (size_t)snprintf(refs + n, sizeof refs - n, "{\"refs\": [");
    for (i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "lone%d", i);
        ASSERT_EQ(
            limitr_create_customer(e, id, NULL, "{\"refs\": [\"gone\"]}", NULL),
            LIMITR_OK);
        n += (size_t)snprintf(refs + n, sizeof refs - n, "\"%s\",", id);
    }
    snprintf(refs + n, sizeof refs - n, "\"org\"]}");
    ASSERT_EQ(limitr_delete_customer(e, "gone"), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "u", NULL, refs, &snap), LIMITR_OK);
    ASSERT_CONTAINS(snap, "\"plan\":\"org_plan\"");
    limitr_free(e);

    /* A chain c0 -> c1 -> ... -> c65 (the org): c1 reaches the org in 64
       levels, c0 would need 65 and gets the default plan. */
    e = engine_of("policy:\n"
                  "  credits: {t: {}}\n"
                  "  plans:\n"
                  "    free: {default: true}\n"
                  "    org_plan: {}\n",
                  NULL);
    ASSERT(e != NULL);
    ASSERT_EQ(chain_to_org(e, 0), 0);
    ASSERT_EQ(limitr_customer(e, "c1", &snap), LIMITR_OK);
    ASSERT_CONTAINS(snap, "\"plan\":\"org_plan\""); /* 64 levels */
    ASSERT_EQ(limitr_customer(e, "c0", &snap), LIMITR_OK);
    ASSERT_CONTAINS(snap, "\"plan\":\"free\""); /* 65: the default */
    /* stored by name: a shorter chain later does not change it */
    ASSERT_CONTAINS(snap, "\"own_plan\":\"free\"");
    limitr_free(e);

    /* Without a default plan, c0 has none within 64 levels: its creation
       fails (it was made, and then had no plan for any call). */
    e = engine_of("policy:\n"
                  "  credits: {t: {}}\n"
                  "  plans:\n"
                  "    org_plan: {}\n",
                  NULL);
    ASSERT(e != NULL);
    ASSERT_EQ(chain_to_org(e, 1), 0);
    ASSERT_EQ(limitr_create_customer(e, "c0", NULL, "{\"refs\": [\"c1\"]}",
                                     NULL),
              LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "no_plan");
    ASSERT_EQ(limitr_customer(e, "c0", &snap), LIMITR_NOT_FOUND);
    limitr_free(e);
}

/* docs/engine.md 2.2: the scope search looks at the first 256 customers
 * breadth first (the caller included): a caller with more refs still finds
 * an owner among them (it gave up once its queue was full). */
TEST(scope_search_looks_at_256_customers)
{
    limitr_engine *e = engine_of("policy:\n"
                                 "  credits: {t: {}}\n"
                                 "  plans:\n"
                                 "    p:\n"
                                 "      default: true\n"
                                 "      entitlements:\n"
                                 "        seats: {scope: org, limit: {credit: "
                                 "t, value: 3}}\n",
                                 NULL);
    static const int org_at[] = {1, 255, 256}; /* 256th looked at: ref 255 */
    char id[16], ref[16], refs[4000];
    size_t k, n;
    int i;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "org", NULL, "{\"type\": \"org\"}",
                                     NULL),
              LIMITR_OK);
    for (i = 1; i <= 300; i++) {
        snprintf(id, sizeof id, "t%d", i);
        ASSERT_EQ(limitr_create_customer(e, id, NULL, NULL, NULL), LIMITR_OK);
    }
    for (k = 0; k < sizeof org_at / sizeof org_at[0]; k++) {
        n = (size_t)snprintf(refs, sizeof refs, "{\"refs\": [");
        for (i = 1; i <= 300; i++) {
            if (i == org_at[k])
                snprintf(ref, sizeof ref, "org");
            else
                snprintf(ref, sizeof ref, "t%d", i);
            n += (size_t)snprintf(refs + n, sizeof refs - n, "%s\"%s\"",
                                  i > 1 ? ", " : "", ref);
        }
        snprintf(refs + n, sizeof refs - n, "]}");
        snprintf(id, sizeof id, "u%d", org_at[k]);
        ASSERT_EQ(limitr_create_customer(e, id, NULL, refs, NULL), LIMITR_OK);
        ASSERT_EQ(limitr_increment(e, id, "seats", NULL),
                  org_at[k] <= 255 ? LIMITR_OK : LIMITR_NOT_FOUND);
    }
    limitr_free(e);
}

/* An update naming the customer's own ID among its alt IDs adds the others
 * only (it wrote past the list it had reserved). */
TEST(own_id_among_alt_ids)
{
    limitr_engine *e = engine_of(big_yaml, NULL);
    const char *snap;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "a", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(
                  e, "a", NULL, "{\"alt_ids\": [\"a\", \"b\", \"b\"]}", &snap),
              LIMITR_OK);
    ASSERT_CONTAINS(snap, "\"alt_ids\":[\"b\"]");
    ASSERT_EQ(limitr_create_customer(e, "b", NULL,
                                     "{\"alt_ids\": [\"a\", \"c\"]}", &snap),
              LIMITR_OK); /* "b" is a's alt ID: this updates a */
    ASSERT_CONTAINS(snap, "\"alt_ids\":[\"b\",\"c\"]");
    ASSERT_EQ(limitr_create_customer(e, "n", NULL,
                                     "{\"alt_ids\": [\"n\", \"m\"]}", &snap),
              LIMITR_OK); /* a new customer's own ID is not its alt ID */
    ASSERT_CONTAINS(snap, "\"alt_ids\":[\"m\"]");
    limitr_free(e);
}

/* hard_trailing compares a value and a limit at the ends of the range. */
TEST(comparisons_at_the_range_ends)
{
    limitr_engine *e = engine_of("policy:\n"
                                 "  credits: {t: {}}\n"
                                 "  plans:\n"
                                 "    p:\n"
                                 "      default: true\n"
                                 "      entitlements:\n"
                                 "        h: {limit: {credit: t, value: 1e20, "
                                 "hard_trailing: true}}\n",
                                 NULL);
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "h", -1e20, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "h", 1, NULL), LIMITR_OK);
    limitr_free(e);
}

TEST(loading_a_directory_says_why)
{
    limitr_engine *e = NULL;
    /* opened but not read: "the file cannot be read" (limitr.h) */
    ASSERT_EQ(limitr_load("tests", NULL, &e), LIMITR_NOT_FOUND);
    ASSERT_CONTAINS(limitr_last_error(e),
                    "cannot read 'tests': Is a directory");
    limitr_free(e);
}

int main(void)
{
    RUN(meter_values_never_wrap);
    RUN(call_options_are_checked);
    RUN(ids_are_utf8);
    RUN(the_clock_never_wraps);
    RUN(overrides_hold_no_snippets);
    RUN(plan_lookup_follows_levels_not_visits);
    RUN(scope_search_looks_at_256_customers);
    RUN(own_id_among_alt_ids);
    RUN(comparisons_at_the_range_ends);
    RUN(loading_a_directory_says_why);
    return HARNESS_EXIT();
}
