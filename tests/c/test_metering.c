/* test_metering.c: the metering model from C (docs/engine.md sections 2-9 and
 * the worked examples of section 13): modes, resets, units, the customer
 * graph, overrides, the governor, reads and explain. */
#include "harness.h"
#include "engine_of.h"
#include "limitr.h"
#include "recorder.h"

static const char policy_yaml[] =
    "policy:\n"
    "  credits:\n"
    "    token: {}\n"
    "    request: {}\n"
    "    seat: {}\n"
    "    project: {}\n"
    "    storage: {units: MB}\n"
    "  plans:\n"
    "    p:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        chat: {limit: {credit: token, mode: soft, value: 1000}}\n"
    "        hard_chat: {limit: {credit: token, value: 1000}}\n"
    "        seen: {limit: {credit: token, mode: observe, value: 10}}\n"
    "        seats: {limit: {credit: seat, value: 5, hard_trailing: true}}\n"
    "        counter: {limit: {credit: seat, value: 5, minimum: 0}}\n"
    "        api: {limit: {credit: request, value: 100, resets: true,\n"
    "              reset_sch: 'monthly:31'}}\n"
    "        daily: {limit: {credit: request, value: 1000, resets: true,\n"
    "                reset_inc: 1day}}\n"
    "        ai: {limit: {credit: token, value: 1000000, resets: true,\n"
    "             governor_enabled: true, governor_capacity: 50000,\n"
    "             governor_refill_rate: 0.5}}\n"
    "        storage: {limit: {credit: storage, value: 1GB, increment: "
    "500MB}}\n"
    "    team_plan:\n"
    "      entitlements:\n"
    "        seats: {scope: org, limit: {credit: seat, value: 3}}\n"
    "        projects: {scope: team, limit: {credit: project, value: 10}}\n";

static limitr_engine *engine(void)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    if (e != NULL) limitr_set_time(e, 1736510400000LL); /* 2025-01-10T12:00Z */
    return e;
}

static double read_value(limitr_engine *e, const char *id, const char *ent)
{
    double v = -12345;
    limitr_value(e, id, ent, NULL, &v);
    return v;
}

TEST(soft_overage_13_2)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    double v;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", NULL, NULL, NULL);
    ASSERT_EQ(limitr_allow(e, "c", "chat", 990, NULL), LIMITR_OK);
    limitr_on(e, "*", record, &r, NULL);
    ASSERT_EQ(limitr_allow(e, "c", "chat", 30, NULL), LIMITR_OK);
    ASSERT_STR(r.names, "meter-overage");
    ASSERT_CONTAINS(r.last, "\"old\":990,\"value\":1020,\"diff\":30");
    ASSERT_CONTAINS(r.last, "\"remaining\":-20,\"overage\":20");
    ASSERT_EQ(limitr_allow(e, "c", "chat", 10, NULL), LIMITR_OK);
    ASSERT_CONTAINS(r.last, "\"overage\":10");
    ASSERT_EQ(limitr_remaining(e, "c", "chat", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, -30);
    /* hard mode: denied, invalid_value 1020 */
    ASSERT_EQ(limitr_allow(e, "c", "hard_chat", 990, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "hard_chat", 30, NULL), LIMITR_DENIED);
    ASSERT_CONTAINS(r.last, "\"invalid_value\":1020");
    limitr_free(e);
}

TEST(observe_minimum_force)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    limitr_call_opts force = {NULL, 0, 1, 0, 0, NULL};
    double v;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", NULL, NULL, NULL);
    ASSERT_EQ(limitr_allow(e, "c", "seen", 50, NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "c", "seen"), 50);
    ASSERT_EQ(limitr_remaining(e, "c", "seen", NULL, &v), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_limit(e, "c", "seen", &v), LIMITR_NOT_FOUND);
    /* minimum 0: a decrement at the floor is true, keeps 0, fires nothing */
    limitr_on(e, "*", record, &r, NULL);
    ASSERT_EQ(limitr_decrement(e, "c", "counter", NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "c", "counter"), 0);
    ASSERT_EQ(r.count, 0);
    ASSERT_EQ(limitr_allow(e, "c", "counter", 3, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "counter", -10, NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "c", "counter"), 0);
    /* force past a hard limit commits like soft */
    ASSERT_EQ(limitr_allow(e, "c", "hard_chat", 1200, &force), LIMITR_OK);
    ASSERT_STR(r.names + strlen(r.names) - strlen("meter-overage"),
               "meter-overage");
    ASSERT_CONTAINS(r.last, "\"overage\":200");
    ASSERT_NUM(read_value(e, "c", "hard_chat"), 1200);
    limitr_free(e);
}

TEST(hard_trailing_13_3)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    double v;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", NULL, NULL, NULL);
    limitr_on(e, "*", record, &r, NULL);
    ASSERT_EQ(limitr_allow(e, "c", "seats", 5, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_increment(e, "c", "seats", NULL), LIMITR_DENIED);
    ASSERT_CONTAINS(r.last, "\"invalid_value\":6");
    ASSERT_EQ(limitr_allow(e, "c", "seats", -1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "seats", 3, NULL), LIMITR_OK);
    ASSERT_STR(r.names + strlen(r.names) - strlen("meter-changed"),
               "meter-changed");
    ASSERT_EQ(limitr_remaining(e, "c", "seats", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, -2);
    ASSERT_EQ(limitr_increment(e, "c", "seats", NULL), LIMITR_DENIED);
    ASSERT_CONTAINS(r.last, "\"invalid_value\":8");
    limitr_free(e);
}

TEST(monthly_31_across_february_13_4)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    int64_t next;
    double v;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", NULL, NULL, NULL);
    ASSERT_EQ(limitr_resets(e, "c", "api", &next), LIMITR_OK);
    ASSERT_EQ(next, 1738281600000LL);
    limitr_set_time(e, 1737374400000LL); /* Jan 20 */
    ASSERT_EQ(limitr_allow(e, "c", "api", 60, NULL), LIMITR_OK);
    limitr_set_time(e, 1738281600000LL); /* the boundary: a new period */
    ASSERT_NUM(read_value(e, "c", "api"), 0);
    ASSERT_EQ(limitr_remaining(e, "c", "api", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 100);
    limitr_set_time(e, 1738713600000LL); /* Feb 5 */
    limitr_on(e, "*", record, &r, NULL);
    ASSERT_EQ(limitr_allow(e, "c", "api", 10, NULL), LIMITR_OK);
    ASSERT_STR(r.names, "meter-reset,meter-changed");
    ASSERT_CONTAINS(r.last, "\"old\":0,\"value\":10");
    ASSERT_EQ(limitr_resets(e, "c", "api", &next), LIMITR_OK);
    ASSERT_EQ(next, 1740700800000LL);
    /* idle to Apr 15: one roll to Mar 31, one meter-reset */
    limitr_set_time(e, 1744675200000LL);
    r.names[0] = '\0';
    ASSERT_EQ(limitr_allow(e, "c", "api", 1, NULL), LIMITR_OK);
    ASSERT_STR(r.names, "meter-reset,meter-changed");
    ASSERT_EQ(limitr_resets(e, "c", "api", &next), LIMITR_OK);
    ASSERT_EQ(next, 1745971200000LL);
    limitr_free(e);
}

TEST(interval_resets_and_check_writes_nothing)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    int64_t next;
    ASSERT(e != NULL);
    limitr_set_time(e, 1772323200000LL); /* 2026-03-01T00:00Z */
    limitr_create_customer(e, "c", NULL, NULL, NULL);
    ASSERT_EQ(limitr_allow(e, "c", "daily", 1000, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "daily", 1, NULL), LIMITR_DENIED);
    limitr_set_time(e, 1773144000000LL); /* 2026-03-10T12:00Z */
    ASSERT_EQ(limitr_check(e, "c", "daily", 1000), LIMITR_OK);
    ASSERT_EQ(limitr_resets(e, "c", "daily", &next), LIMITR_OK);
    ASSERT_EQ(next, 1773187200000LL); /* 2026-03-11T00:00Z */
    limitr_on(e, "*", record, &r, NULL);
    ASSERT_EQ(limitr_allow(e, "c", "daily", 2000, NULL), LIMITR_DENIED);
    /* the denied allow still rolled the period, and said so */
    ASSERT_STR(r.names, "meter-reset,meter-limit");
    ASSERT_CONTAINS(r.names, "meter-reset");
    limitr_free(e);
}

TEST(units)
{
    limitr_engine *e = engine();
    double v;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", NULL, NULL, NULL);
    ASSERT_EQ(limitr_limit(e, "c", "storage", &v), LIMITR_OK);
    ASSERT_NUM(v, 1000);
    ASSERT_EQ(limitr_cost(e, "p", "storage", &v), LIMITR_OK); /* a plan */
    ASSERT_NUM(v, 500);
    ASSERT_EQ(limitr_allow_str(e, "c", "storage", "0.5GB", NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "c", "storage"), 500);
    ASSERT_EQ(limitr_allow_str(e, "c", "storage", "1GiB", NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "limit");
    ASSERT_EQ(limitr_allow_str(e, "c", "storage", "2h", NULL), LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "invalid_value");
    ASSERT_EQ(limitr_allow_str(e, "c", "storage", "ten", NULL), LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "invalid_value");
    ASSERT_EQ(limitr_allow_str(e, "c", "chat", "5GB", NULL), LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "invalid_value"); /* no units */
    ASSERT_EQ(limitr_allow_str(e, "c", "chat", "1_000", NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "c", "chat"), 1000);
    limitr_free(e);
}

TEST(scope_13_6)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    double v;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "acme", "team_plan",
                                     "{\"type\":\"org\"}", NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "eng", NULL,
                                     "{\"type\":\"team\",\"refs\":[\"acme\"]}",
                                     NULL),
              LIMITR_OK);
    limitr_create_customer(e, "u1", NULL, "{\"refs\":[\"eng\"]}", NULL);
    limitr_create_customer(e, "u2", NULL, "{\"refs\":[\"eng\"]}", NULL);
    limitr_on(e, "meter-changed", record, &r, NULL);
    ASSERT_EQ(limitr_increment(e, "u1", "seats", NULL), LIMITR_OK);
    ASSERT_CONTAINS(r.last, "\"customer\":{\"id\":\"acme\"");
    ASSERT_EQ(limitr_increment(e, "u2", "seats", NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "u1", "seats"), 2);
    ASSERT_EQ(limitr_increment(e, "u1", "projects", NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "eng", "projects"), 1);
    ASSERT_EQ(limitr_increment(e, "acme", "seats", NULL), LIMITR_OK);
    ASSERT_EQ(limitr_increment(e, "u2", "seats", NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "limit");
    /* breadth first: u3 -> {eng, acme2} meters on acme2 */
    limitr_create_customer(e, "acme2", "team_plan", "{\"type\":\"org\"}", NULL);
    limitr_create_customer(e, "u3", NULL, "{\"refs\":[\"eng\",\"acme2\"]}",
                           NULL);
    ASSERT_EQ(limitr_increment(e, "u3", "seats", NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "acme2", "seats"), 1);
    /* no customer of the scope's type */
    limitr_create_customer(e, "solo", "team_plan", NULL, NULL);
    r.count = 0;
    ASSERT_EQ(limitr_increment(e, "solo", "seats", NULL), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "no_scope_customer");
    ASSERT_EQ(r.count, 0);
    ASSERT_EQ(limitr_value(e, "solo", "seats", NULL, &v), LIMITR_NOT_FOUND);
    limitr_free(e);
}

TEST(alt_ids_refs_and_plan_changes)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    const char *snap;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", NULL, "{\"alt_ids\":[\"stripe_1\"]}", NULL);
    limitr_create_customer(e, "d", NULL, NULL, NULL);
    ASSERT_EQ(limitr_increment(e, "stripe_1", "seats", NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "c", "seats"), 1);
    ASSERT_EQ(limitr_set_alt_customer_id(e, "d", "stripe_1"), LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "alt_id_in_use");
    ASSERT_EQ(limitr_set_alt_customer_id(e, "d", "email@x"), LIMITR_OK);
    ASSERT_EQ(limitr_customer(e, "email@x", &snap), LIMITR_OK);
    ASSERT_CONTAINS(snap, "\"id\":\"d\"");
    ASSERT_EQ(limitr_delete_alt_customer_id(e, "email@x"), LIMITR_OK);
    ASSERT_EQ(limitr_delete_alt_customer_id(e, "email@x"), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_customer(e, "email@x", &snap), LIMITR_NOT_FOUND);
    /* a user following its org's plan, then its own */
    limitr_create_customer(e, "org", "team_plan", "{\"type\":\"org\"}", NULL);
    ASSERT_EQ(limitr_set_customer_refs(e, "d", "[\"org\"]"), LIMITR_OK);
    ASSERT_EQ(limitr_customer(e, "d", &snap), LIMITR_OK);
    ASSERT_CONTAINS(snap, "\"plan\":\"p\",\"own_plan\":\"p\"");
    limitr_create_customer(e, "f", NULL, "{\"refs\":[\"org\"]}", NULL);
    ASSERT_EQ(limitr_customer(e, "f", &snap), LIMITR_OK);
    ASSERT_CONTAINS(snap, "\"plan\":\"team_plan\",\"own_plan\":\"\"");
    limitr_on(e, "*", record, &r, NULL);
    ASSERT_EQ(limitr_set_customer_plan(e, "c", "team_plan", 0), LIMITR_OK);
    ASSERT_STR(r.names, "customer-set,customer-plan-changed");
    ASSERT_CONTAINS(r.last,
                    "\"previous_plan\":\"p\",\"new_plan\":\"team_plan\"");
    ASSERT_EQ(limitr_set_customer_plan(e, "c", "team_plan", 0), LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "same_plan");
    ASSERT_EQ(limitr_set_customer_plan(e, "c", "nope", 0), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_plan");
    limitr_free(e);
}

TEST(override_13_7)
{
    limitr_engine *e = engine();
    const char *json;
    double v;
    int64_t t = 1736510400000LL;
    char fields[128];
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", NULL, NULL, NULL);
    ASSERT_EQ(limitr_allow(e, "c", "daily", 1000, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "daily", 1, NULL), LIMITR_DENIED);
    snprintf(fields, sizeof fields, "{\"value\":5000,\"expires\":%lld}",
             (long long)(t + 3600000));
    ASSERT_EQ(limitr_create_customer_override(e, "c", "daily", fields, &json),
              LIMITR_OK);
    ASSERT_STR(json, "{\"credit\":\"request\",\"value\":5000,\"increment\":1,"
                     "\"mode\":\"hard\",\"hard_trailing\":false,"
                     "\"grants_apply\":true,\"resets\":true,"
                     "\"reset_inc\":86400000,\"governor_enabled\":false,"
                     "\"ewma_alpha\":0.2,\"expires\":1736514000000}");
    ASSERT_EQ(limitr_allow(e, "c", "daily", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_limit(e, "c", "daily", &v), LIMITR_OK);
    ASSERT_NUM(v, 5000);
    ASSERT_EQ(limitr_remaining(e, "c", "daily", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 3999);
    limitr_set_time(e, t + 3600000);
    ASSERT_EQ(limitr_limit(e, "c", "daily", &v), LIMITR_OK);
    ASSERT_NUM(v, 1000);
    ASSERT_EQ(limitr_remaining(e, "c", "daily", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, -1);
    ASSERT_EQ(limitr_allow(e, "c", "daily", 1, NULL), LIMITR_DENIED);
    ASSERT_EQ(limitr_remove_customer_override(e, "c", "daily"),
              LIMITR_NOT_FOUND); /* the allow removed it */
    /* bad fields: every problem, under overrides.<id>.<ent> */
    ASSERT_EQ(limitr_create_customer_override(
                  e, "c", "daily", "{\"value\":-1,\"mode\":\"sotf\"}", NULL),
              LIMITR_INVALID);
    ASSERT_STR(limitr_last_error(e),
               "overrides.c.daily.value: must not be negative, got -1 at "
               "1:10\n"
               "overrides.c.daily.mode: unknown mode 'sotf' (did you mean "
               "'soft'?) at 1:20");
    ASSERT_EQ(limitr_create_customer_override(e, "c", "nope", "{}", NULL),
              LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_create_customer_override(e, "x", "daily", "{}", NULL),
              LIMITR_NOT_FOUND);
    limitr_free(e);
}

TEST(governor_13_5)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    const char *json;
    double v;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", NULL, NULL, NULL);
    ASSERT_EQ(limitr_allowance(e, "c", "ai", &v), LIMITR_OK);
    ASSERT_NUM(v, 50000);
    ASSERT_EQ(limitr_allow(e, "c", "ai", 30000, NULL), LIMITR_OK);
    limitr_on(e, "*", record, &r, NULL);
    ASSERT_EQ(limitr_allow(e, "c", "ai", 25000, NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "governor");
    ASSERT_STR(r.names, "meter-governed");
    ASSERT_CONTAINS(r.last, "\"governor\":{\"tokens\":20000,\"capacity\":50000,"
                            "\"requested\":25000}");
    ASSERT_EQ(limitr_explain(e, "c", "ai", 25000, NULL, &json), LIMITR_OK);
    ASSERT_CONTAINS(json, "\"allowed\":false,\"gate\":\"governor\","
                          "\"reason\":\"governor\"");
    ASSERT_CONTAINS(json, "\"retry_after\":10000");
    limitr_advance(e, 10000);
    ASSERT_EQ(limitr_allowance(e, "c", "ai", &v), LIMITR_OK);
    ASSERT_NUM(v, 25000);
    ASSERT_EQ(limitr_allow(e, "c", "ai", 25000, NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "c", "ai"), 55000);
    ASSERT_EQ(limitr_remaining(e, "c", "ai", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 945000);
    limitr_advance(e, 200000);
    ASSERT_EQ(limitr_allow(e, "c", "ai", -5000, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allowance(e, "c", "ai", &v), LIMITR_OK);
    ASSERT_NUM(v, 50000);
    ASSERT_EQ(limitr_check(e, "c", "ai", 50001), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "governor");
    ASSERT_EQ(limitr_explain(e, "c", "ai", 50001, NULL, &json), LIMITR_OK);
    ASSERT(strstr(json, "retry_after") == NULL);
    limitr_free(e);
}

TEST(explain_gates)
{
    limitr_engine *e = engine();
    const char *json;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", NULL, NULL, NULL);
    ASSERT_EQ(limitr_explain(e, "nobody", "api", 1, NULL, &json), LIMITR_OK);
    ASSERT_STR(json, "{\"allowed\":false,\"gate\":\"customer\","
                     "\"reason\":\"unknown_customer\"}");
    ASSERT_EQ(limitr_explain(e, "c", "api", 0, "ten", &json), LIMITR_OK);
    ASSERT_STR(json, "{\"allowed\":false,\"gate\":\"value\","
                     "\"reason\":\"invalid_value\"}");
    ASSERT_EQ(limitr_explain(e, "c", "api", 10, NULL, &json), LIMITR_OK);
    ASSERT_STR(json, "{\"allowed\":true,\"gate\":\"none\",\"limit\":100,"
                     "\"remaining\":100,\"value\":0,"
                     "\"reset\":1738281600000}");
    limitr_allow(e, "c", "api", 100, NULL);
    ASSERT_EQ(limitr_explain(e, "c", "api", 10, NULL, &json), LIMITR_OK);
    ASSERT_CONTAINS(json, "\"gate\":\"limit\",\"reason\":\"limit\"");
    ASSERT_CONTAINS(json, "\"retry_after\":1771200000"); /* to Jan 31 */
    ASSERT_EQ(limitr_explain(e, "c", "api", 101, NULL, &json), LIMITR_OK);
    ASSERT(strstr(json, "retry_after") == NULL); /* never fits */
    limitr_free(e);
}

TEST(rate_and_projection)
{
    limitr_engine *e = engine();
    double v;
    ASSERT(e != NULL);
    limitr_set_time(e, 0);
    limitr_create_customer(e, "c", NULL, NULL, NULL);
    limitr_allow(e, "c", "hard_chat", 10, NULL);
    ASSERT_EQ(limitr_rate(e, "c", "hard_chat", &v), LIMITR_OK);
    ASSERT_NUM(v, 0);
    limitr_set_time(e, 1000);
    limitr_allow(e, "c", "hard_chat", 10, NULL);
    ASSERT_EQ(limitr_rate(e, "c", "hard_chat", &v), LIMITR_OK);
    ASSERT_NUM(v, 0.01);
    limitr_set_time(e, 1500);
    limitr_allow(e, "c", "hard_chat", 30, NULL);
    ASSERT_EQ(limitr_rate(e, "c", "hard_chat", &v), LIMITR_OK);
    ASSERT_NUM(v, 0.06);
    ASSERT_EQ(limitr_acceleration(e, "c", "hard_chat", &v), LIMITR_OK);
    ASSERT_NUM(v, 0.05);
    ASSERT_EQ(limitr_projected_exhaustion(e, "c", "hard_chat", NULL, &v),
              LIMITR_OK);
    ASSERT_NUM(v, 1500 + 950 / 0.06);
    limitr_free(e);
}

/* Deletes customer "c" from inside the first event it sees. */
static const char *delete_c(const char *name, const char *json, void *ud)
{
    recorder *r = ud;
    limitr_engine *e = *(limitr_engine **)r->last;
    (void)json;
    strncat(r->names, name, sizeof r->names - strlen(r->names) - 1);
    strncat(r->names, ";", sizeof r->names - strlen(r->names) - 1);
    if (r->count++ == 0) limitr_delete_customer(e, "c");
    return NULL;
}

TEST(a_handler_deleting_the_customer_mid_events)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    ASSERT(e != NULL);
    memcpy(r.last, &e, sizeof e); /* the engine, for the handler */
    limitr_create_customer(e, "c", NULL, NULL, NULL);
    ASSERT_EQ(limitr_allow(e, "c", "api", 10, NULL), LIMITR_OK);
    limitr_set_time(e, 1738713600000LL); /* a new period */
    limitr_on(e, "meter-reset", delete_c, &r, NULL);
    limitr_on(e, "meter-changed", delete_c, &r, NULL);
    /* The outcome's payload was built before the reset's handler ran. */
    ASSERT_EQ(limitr_allow(e, "c", "api", 5, NULL), LIMITR_OK);
    ASSERT_STR(r.names, "meter-reset;meter-changed;");
    ASSERT_EQ(limitr_value(e, "c", "api", NULL, &(double){0}),
              LIMITR_NOT_FOUND);
    limitr_free(e);
}

int main(void)
{
    RUN(soft_overage_13_2);
    RUN(observe_minimum_force);
    RUN(hard_trailing_13_3);
    RUN(monthly_31_across_february_13_4);
    RUN(interval_resets_and_check_writes_nothing);
    RUN(units);
    RUN(scope_13_6);
    RUN(alt_ids_refs_and_plan_changes);
    RUN(override_13_7);
    RUN(governor_13_5);
    RUN(explain_gates);
    RUN(rate_and_projection);
    RUN(a_handler_deleting_the_customer_mid_events);
    return HARNESS_EXIT();
}
