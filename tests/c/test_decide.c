/* test_decide.c: customers, decisions, reads and events from C
 * (docs/engine.md sections 2, 4, 9, 10 and the seats example, 13.1). */
#include "harness.h"
#include "engine_of.h"
#include "limitr.h"
#include "recorder.h"

static const char policy_yaml[] =
    "policy:\n"
    "  credits:\n"
    "    seat: {label: Seat, unit: seat}\n"
    "    token: {}\n"
    "  plans:\n"
    "    free:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        seats: {limit: {credit: seat, value: 1, increment: 1}}\n"
    "        export_csv: {}\n"
    "        chat: {limit: {credit: token, value: 0.3}}\n"
    "    paid:\n"
    "      entitlements:\n"
    "        seats: {limit: {credit: seat, value: 3, increment: 1}}\n"
    "        bulk: {limit: {credit: seat, value: 10, increment: 5}}\n";

static limitr_engine *engine(void)
{
    return engine_of(policy_yaml, NULL);
}

/* Records events: names in order, and the last payload. */
TEST(seats_example)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    double v;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_on(e, "*", record, &r, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "cus_free", "free", NULL, NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "cus_paid", "paid", NULL, NULL),
              LIMITR_OK);
    ASSERT_STR(r.names, "customer-set,customer-set");
    ASSERT_EQ(limitr_increment(e, "cus_free", "seats", NULL), LIMITR_OK);
    ASSERT_CONTAINS(r.last, "\"meter\":{\"limit\":1,\"old\":0,\"value\":1,"
                            "\"diff\":1,\"overhead\":0,\"overhead_diff\":0}");
    ASSERT_CONTAINS(r.last, "\"remaining\":0");
    ASSERT_EQ(limitr_increment(e, "cus_paid", "seats", NULL), LIMITR_OK);
    ASSERT_CONTAINS(r.last, "\"remaining\":2");
    ASSERT_EQ(limitr_increment(e, "cus_free", "seats", NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "limit");
    ASSERT_CONTAINS(r.last, "\"invalid_value\":2");
    ASSERT_CONTAINS(r.last, "\"overage\":1");
    ASSERT_CONTAINS(r.last, "\"reason\":\"limit\"");
    ASSERT_CONTAINS(r.last, "\"plan\":\"free\"");
    ASSERT_CONTAINS(r.last, "\"meters\":{\"seats\":{\"credit\":\"seat\","
                            "\"value\":1,\"limit\":1,\"remaining\":0");
    ASSERT_CONTAINS(r.last,
                    "\"meter\":{\"limit\":1,\"value\":1,\"diff\":1,"
                    "\"invalid\":2,\"overhead\":0,\"overhead_diff\":0}");
    ASSERT_EQ(limitr_allow(e, "cus_free", "seats", 2, NULL), LIMITR_DENIED);
    ASSERT_CONTAINS(r.last, "\"invalid_value\":3");
    ASSERT_CONTAINS(r.last, "\"overage\":2");
    ASSERT_EQ(limitr_increment(e, "cus_paid", "seats", NULL), LIMITR_OK);
    ASSERT_EQ(limitr_value(e, "cus_paid", "seats", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 2);
    ASSERT_EQ(limitr_value(e, "cus_free", "seats", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 1);
    ASSERT_STR(r.names, "customer-set,customer-set,meter-changed,"
                        "meter-changed,meter-limit,meter-limit,meter-changed");
    limitr_free(e);
}

TEST(check_decides_without_writing_or_firing)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    double v;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", "paid", NULL, NULL);
    limitr_on(e, "*", record, &r, NULL);
    ASSERT_EQ(limitr_check(e, "c", "seats", 3), LIMITR_OK);
    ASSERT_EQ(limitr_check(e, "c", "seats", 4), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "limit");
    /* force records usage that happened: a check records nothing, so
       force does not apply to it (limitr.h) */
    {
        limitr_call_opts forced = {0};
        forced.force = 1;
        ASSERT_EQ(limitr_check_opts(e, "c", "seats", 4, NULL, &forced),
                  LIMITR_DENIED);
        ASSERT_STR(limitr_last_reason(e), "limit");
    }
    ASSERT_EQ(limitr_value(e, "c", "seats", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 0);
    ASSERT_EQ(r.count, 0);
    limitr_free(e);
}

TEST(reads_and_decrement)
{
    limitr_engine *e = engine();
    double v = -1;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", "paid", NULL, NULL);
    ASSERT_EQ(limitr_increment(e, "c", "bulk", NULL), LIMITR_OK);
    ASSERT_EQ(limitr_value(e, "c", "bulk", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 5);
    ASSERT_EQ(limitr_remaining(e, "c", "bulk", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 5);
    ASSERT_EQ(limitr_limit(e, "c", "bulk", &v), LIMITR_OK);
    ASSERT_NUM(v, 10);
    ASSERT_EQ(limitr_decrement(e, "c", "bulk", NULL), LIMITR_OK);
    ASSERT_EQ(limitr_decrement(e, "c", "bulk", NULL), LIMITR_OK);
    ASSERT_EQ(limitr_value(e, "c", "bulk", NULL, &v), LIMITR_OK);
    ASSERT_NUM(
        v, -5); /* no minimum: a value may go negative (docs/engine.md 3.2) */
    ASSERT_EQ(limitr_allow(e, "c", "bulk", 15, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "bulk", 0.000000001, NULL), LIMITR_DENIED);
    limitr_free(e);
}

TEST(exact_fractions_at_the_limit)
{
    limitr_engine *e = engine();
    double v;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", NULL, NULL, NULL); /* default plan */
    ASSERT_EQ(limitr_allow(e, "c", "chat", 0.1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "chat", 0.2, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_value(e, "c", "chat", NULL, &v), LIMITR_OK);
    ASSERT(v == 0.3);
    ASSERT_EQ(limitr_allow(e, "c", "chat", 0.000000001, NULL), LIMITR_DENIED);
    limitr_free(e);
}

TEST(flags_and_unknowns)
{
    limitr_engine *e = engine();
    double v = -1;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", "free", NULL, NULL);
    ASSERT_EQ(limitr_allow(e, "c", "export_csv", 1e9, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_increment(e, "c", "export_csv", NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "not_metered");
    ASSERT_EQ(limitr_value(e, "c", "export_csv", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 0);
    ASSERT_EQ(limitr_limit(e, "c", "export_csv", &v), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_allow(e, "nobody", "seats", 1, NULL), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_customer");
    ASSERT_EQ(limitr_allow(e, "c", "bulk", 1, NULL), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_entitlement");
    ASSERT_EQ(limitr_value(e, "nobody", "seats", NULL, &v), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_allow(e, "c", "seats", 1.0 / 0.0, NULL), LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "invalid_value");
    ASSERT_EQ(limitr_allow(e, NULL, "seats", 1, NULL), LIMITR_INVALID);
    ASSERT_EQ(limitr_allow(NULL, "c", "seats", 1, NULL), LIMITR_INVALID);
    limitr_free(e);
}

TEST(customers)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    const char *snap = NULL;
    limitr_engine *nodefault = NULL;
    const char *nd = "policy: {plans: {a: {}}}";
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", "nope", NULL, NULL),
              LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_plan");
    ASSERT_EQ(limitr_create_customer(e, "", "free", NULL, NULL),
              LIMITR_INVALID);
    ASSERT_EQ(limitr_create_customer(e, "c", "free",
                                     "{\"type\":\"org\",\"label\":\"Acme\","
                                     "\"metadata\":{\"seats\":4}}",
                                     &snap),
              LIMITR_OK);
    ASSERT_CONTAINS(snap,
                    "\"id\":\"c\",\"plan\":\"free\",\"own_plan\":\"free\","
                    "\"type\":\"org\",\"label\":\"Acme\"");
    ASSERT_CONTAINS(snap, "\"metadata\":{\"seats\":4}");
    ASSERT_EQ(limitr_create_customer(e, "c", "free", "{\"typo\":1}", NULL),
              LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "unknown option 'typo'");
    ASSERT_EQ(limitr_create_customer(e, "c", "free", "[1", NULL),
              LIMITR_INVALID);
    /* update: the plan changes, the meter stays */
    ASSERT_EQ(limitr_increment(e, "c", "seats", NULL), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "c", "paid", NULL, &snap), LIMITR_OK);
    ASSERT_CONTAINS(snap, "\"plan\":\"paid\"");
    ASSERT_CONTAINS(snap, "\"type\":\"org\"");
    ASSERT_CONTAINS(snap,
                    "\"seats\":{\"credit\":\"seat\",\"value\":1,\"limit\":3");
    limitr_on(e, "customer-removed", record, &r, NULL);
    ASSERT_EQ(limitr_delete_customer(e, "c"), LIMITR_OK);
    ASSERT_STR(r.names, "customer-removed");
    ASSERT_CONTAINS(r.last, "\"id\":\"c\"");
    ASSERT_EQ(limitr_customer(e, "c", &snap), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_delete_customer(e, "c"), LIMITR_NOT_FOUND);
    limitr_free(e);

    ASSERT_EQ(limitr_new(nd, strlen(nd), NULL, NULL, &nodefault), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(nodefault, "x", NULL, NULL, NULL),
              LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(nodefault), "no_plan");
    limitr_free(nodefault);
}

TEST(many_customers)
{
    limitr_engine *e = engine();
    char id[32];
    int i;
    double v;
    ASSERT(e != NULL);
    for (i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "cus_%d", i);
        ASSERT_EQ(limitr_create_customer(e, id, "paid", NULL, NULL), LIMITR_OK);
        ASSERT_EQ(limitr_allow(e, id, "seats", i % 4, NULL),
                  i % 4 <= 3 ? LIMITR_OK : LIMITR_DENIED);
    }
    for (i = 0; i < 5000; i += 2) {
        snprintf(id, sizeof id, "cus_%d", i);
        ASSERT_EQ(limitr_delete_customer(e, id), LIMITR_OK);
    }
    for (i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "cus_%d", i);
        ASSERT_EQ(limitr_value(e, id, "seats", NULL, &v),
                  i % 2 ? LIMITR_OK : LIMITR_NOT_FOUND);
        if (i % 2) ASSERT_NUM(v, i % 4);
    }
    limitr_free(e);
}

/* ---- Events ---- */

static const char *failing(const char *name, const char *json, void *ud)
{
    (void)name;
    (void)json;
    (void)ud;
    return "boom";
}

TEST(subscriptions_order_off_and_errors)
{
    limitr_engine *e = engine();
    recorder named = {{0}, {0}, 0}, star = {{0}, {0}, 0},
             errors = {{0}, {0}, 0};
    int id1 = 0, id2 = 0;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", "paid", NULL, NULL);
    ASSERT_EQ(limitr_on(e, "*", record, &star, &id1), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "meter-changed", record, &named, &id2), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "meter-changed", failing, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "error", record, &errors, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_increment(e, "c", "seats", NULL), LIMITR_OK);
    ASSERT_EQ(named.count, 1);
    ASSERT_STR(star.names, "error,meter-changed");
    ASSERT_CONTAINS(errors.last, "\"message\":\"boom\"");
    ASSERT_CONTAINS(errors.last, "\"path\":\"on:meter-changed\"");
    ASSERT_EQ(limitr_off(e, id2), LIMITR_OK);
    ASSERT_EQ(limitr_off(e, id2), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_increment(e, "c", "seats", NULL), LIMITR_OK);
    ASSERT_EQ(named.count, 1);
    ASSERT_EQ(limitr_on(e, "meter-chnged", record, &named, NULL),
              LIMITR_INVALID);
    ASSERT_STR(
        limitr_last_error(e),
        "on: unknown event 'meter-chnged' (did you mean 'meter-changed'?)");
    limitr_free(e);
}

TEST(no_events_option_and_event_data)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    limitr_call_opts quiet = {NULL, 1, 0, 0, 0, NULL},
                     data = {"{\"model\":\"x\"}", 0, 0, 0, 0, NULL};
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", "paid", NULL, NULL);
    limitr_on(e, "*", record, &r, NULL);
    ASSERT_EQ(limitr_increment(e, "c", "seats", &quiet), LIMITR_OK);
    ASSERT_EQ(r.count, 0);
    ASSERT_EQ(limitr_increment(e, "c", "seats", &data), LIMITR_OK);
    ASSERT_CONTAINS(r.last, "\"event_data\":{\"model\":\"x\"}");
    ASSERT_EQ(limitr_allow(e, "c", "seats", 0, NULL), LIMITR_OK);
    ASSERT_EQ(r.count, 1); /* a no-op commit fires nothing */
    limitr_free(e);
}

static const char *app_calls(const char *args, const char **result, void *ud)
{
    recorder *r = ud;
    (void)result;
    snprintf(r->last, sizeof r->last, "%s", args);
    r->count++;
    return NULL;
}

static const char *app_fails(const char *args, const char **result, void *ud)
{
    (void)args;
    (void)result;
    (void)ud;
    return "app failed";
}

TEST(app_host_functions)
{
    limitr_engine *e = engine();
    recorder limit = {{0}, {0}, 0}, all = {{0}, {0}, 0}, errors = {{0}, {0}, 0};
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", "free", NULL, NULL);
    ASSERT_EQ(limitr_lib(e, "App", "meter_limit", app_calls, &limit),
              LIMITR_OK);
    ASSERT_EQ(limitr_lib(e, "App", "event_handler", app_calls, &all),
              LIMITR_OK);
    ASSERT_EQ(limitr_lib(e, "App", "customer_set", app_fails, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_lib(e, "App", "bad-name", app_calls, NULL),
              LIMITR_INVALID);
    ASSERT_EQ(limitr_on(e, "error", record, &errors, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "seats", 2, NULL), LIMITR_DENIED);
    ASSERT_EQ(limit.count, 1);
    ASSERT(limit.last[0] == '[');
    ASSERT_CONTAINS(limit.last, "\"invalid_value\":2");
    ASSERT_CONTAINS(all.last, "[\"meter-limit\",{");
    ASSERT_EQ(limitr_create_customer(e, "d", "free", NULL, NULL), LIMITR_OK);
    ASSERT_CONTAINS(errors.last, "\"path\":\"lib:App.customer_set\"");
    limitr_free(e);
}

/* A subscriber that calls the engine while it is delivering. */
static const char *reentrant(const char *name, const char *json, void *ud)
{
    limitr_engine *e = ud;
    (void)name;
    (void)json;
    limitr_delete_customer(e, "c");
    limitr_create_customer(e, "other", "paid", NULL, NULL);
    return NULL;
}

TEST(handlers_may_call_the_engine)
{
    limitr_engine *e = engine();
    double v;
    ASSERT(e != NULL);
    limitr_create_customer(e, "c", "free", NULL, NULL);
    limitr_on(e, "meter-limit", reentrant, e, NULL);
    limitr_increment(e, "c", "seats", NULL);
    ASSERT_EQ(limitr_increment(e, "c", "seats", NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "limit"); /* the reason survives */
    ASSERT_EQ(limitr_value(e, "c", "seats", NULL, &v), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_value(e, "other", "seats", NULL, &v), LIMITR_OK);
    limitr_free(e);
}

TEST(clock)
{
    limitr_engine *e = engine();
    const char *snap;
    ASSERT(e != NULL);
    ASSERT(limitr_now(e) > 1700000000000LL);
    limitr_set_time(e, 1000);
    ASSERT_EQ(limitr_now(e), 1000);
    limitr_advance(e, 500);
    ASSERT_EQ(limitr_now(e), 1500);
    limitr_create_customer(e, "c", "free", NULL, &snap);
    ASSERT_CONTAINS(snap, "\"created\":1500");
    ASSERT_CONTAINS(snap, "\"started\":1500");
    limitr_free(e);
}

/* limitr_decide: the allow and what an HTTP answer says of it, with the
 * allow's opts. */
TEST(decide_gives_the_allows_answer_and_its_numbers)
{
    limitr_engine *e = engine();
    recorder r = {{0}, {0}, 0};
    limitr_call_opts opts;
    limitr_decision d;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", "paid", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "meter-changed", record, &r, NULL), LIMITR_OK);
    memset(&opts, 0, sizeof opts);
    opts.event_json = "{\"route\": \"/a\"}";
    ASSERT_EQ(limitr_decide(e, "c", 1, "seats", 5, 2, NULL, &opts, &d),
              LIMITR_OK);
    ASSERT_STR(d.reason, "");
    ASSERT(d.has_limit && !d.has_reset && !d.has_retry_after);
    ASSERT_NUM(d.limit, 3);
    ASSERT_NUM(d.remaining, 1);
    ASSERT_CONTAINS(r.last, "\"event_data\":{\"route\":\"/a\"}");
    ASSERT_EQ(limitr_decide(e, "c", 1, "seats", 5, 2, NULL, NULL, &d),
              LIMITR_DENIED);
    ASSERT_STR(d.reason, "limit");
    ASSERT_NUM(d.remaining, 1);
    ASSERT(!d.has_retry_after); /* no reset: no wait helps */
    ASSERT_EQ(limitr_decide(e, "c", 1, "export_csv", 10, 0, NULL, NULL, &d),
              LIMITR_NOT_FOUND); /* a flag of free, not of paid */
    ASSERT_STR(d.reason, "unknown_entitlement");
    ASSERT(!d.has_limit);
    ASSERT_EQ(limitr_decide(e, "c", 1, "seats", 5, 1, NULL, NULL, NULL),
              LIMITR_INVALID);
    limitr_free(e);
}

int main(void)
{
    RUN(decide_gives_the_allows_answer_and_its_numbers);
    RUN(seats_example);
    RUN(check_decides_without_writing_or_firing);
    RUN(reads_and_decrement);
    RUN(exact_fractions_at_the_limit);
    RUN(flags_and_unknowns);
    RUN(customers);
    RUN(many_customers);
    RUN(subscriptions_order_off_and_errors);
    RUN(no_events_option_and_event_data);
    RUN(app_host_functions);
    RUN(handlers_may_call_the_engine);
    RUN(clock);
    return HARNESS_EXIT();
}
