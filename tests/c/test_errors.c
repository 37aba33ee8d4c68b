/* test_errors.c: the error model from C: one status per condition whatever
 * the function, a reason code for programs beside a message for people, and
 * an engine whose limitr_new failed refusing every call without crashing. */
#include "harness.h"
#include "engine_of.h"
#include "limitr.h"

static const char policy_yaml[] =
    "policy:\n"
    "  credits: {seat: {}}\n"
    "  plans:\n"
    "    free:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        seats: {limit: {credit: seat, value: 1}}\n"
    "        flag: {}\n";

static limitr_engine *engine(void)
{
    return engine_of(policy_yaml, NULL);
}

/* The README's C snippet: a policy naming an unknown credit, then calls on
 * the engine handed back. Each is refused with "no_policy". */
TEST(failed_engine_refuses_every_call)
{
    static const char bad[] = "policy:\n"
                              "  plans:\n"
                              "    free:\n"
                              "      entitlements:\n"
                              "        seats: {limit: {credit: seet}}\n";
    limitr_engine *e = NULL;
    const char *json = NULL;
    double v = -1;
    int sub = 0;
    ASSERT_EQ(limitr_new(bad, strlen(bad), "yaml", NULL, &e), LIMITR_INVALID);
    ASSERT(e != NULL);
    ASSERT_CONTAINS(limitr_last_error(e), "unknown credit 'seet'");
    ASSERT_STR(limitr_last_reason(e), "invalid_policy");
#define REFUSED(call)                                                          \
    do {                                                                       \
        ASSERT_EQ(call, LIMITR_INVALID);                                       \
        ASSERT_STR(limitr_last_reason(e), "no_policy");                        \
        ASSERT_CONTAINS(limitr_last_error(e), "limitr_new or limitr_load");    \
    } while (0)
    REFUSED(limitr_create_customer(e, "c", NULL, NULL, &json));
    REFUSED(limitr_customer(e, "c", &json));
    REFUSED(limitr_delete_customer(e, "c"));
    REFUSED(limitr_set_customer_refs(e, "c", "[]"));
    REFUSED(limitr_set_customer_plan(e, "c", "free", 0));
    REFUSED(limitr_set_alt_customer_id(e, "c", "d"));
    REFUSED(limitr_delete_alt_customer_id(e, "d"));
    REFUSED(limitr_create_customer_override(e, "c", "seats", "{}", &json));
    REFUSED(limitr_remove_customer_override(e, "c", "seats"));
    REFUSED(limitr_allow(e, "c", "seats", 1, NULL));
    REFUSED(limitr_allow_n(e, "c", 1, "seats", 5, 1, NULL));
    REFUSED(limitr_allow_str(e, "c", "seats", "1", NULL));
    REFUSED(limitr_check(e, "c", "seats", 1));
    REFUSED(limitr_check_str(e, "c", "seats", "1"));
    REFUSED(limitr_explain(e, "c", "seats", 1, NULL, &json));
    REFUSED(limitr_increment(e, "c", "seats", NULL));
    REFUSED(limitr_decrement(e, "c", "seats", NULL));
    REFUSED(limitr_value(e, "c", "seats", NULL, &v));
    REFUSED(limitr_remaining(e, "c", "seats", NULL, &v));
    REFUSED(limitr_limit(e, "c", "seats", &v));
    REFUSED(limitr_cost(e, "c", "seats", &v));
    REFUSED(limitr_allowance(e, "c", "seats", &v));
    REFUSED(limitr_rate(e, "c", "seats", &v));
    REFUSED(limitr_acceleration(e, "c", "seats", &v));
    REFUSED(limitr_projected_exhaustion(e, "c", "seats", NULL, &v));
    {
        int64_t ms;
        REFUSED(limitr_resets(e, "c", "seats", &ms));
    }
    REFUSED(limitr_on(e, "*", NULL, NULL, &sub));
    REFUSED(limitr_off(e, 1));
    REFUSED(limitr_lib(e, "App", "f", NULL, NULL));
#undef REFUSED
    ASSERT_NUM(v, -1);
    limitr_free(e);
}

/* unknown_customer is LIMITR_NOT_FOUND from a decision, a read and a
 * customer call alike; the code is the same, the message for people. */
TEST(one_status_per_condition)
{
    limitr_engine *e = engine();
    double v;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_allow(e, "nobody", "seats", 1, NULL), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_customer");
    ASSERT_CONTAINS(limitr_last_error(e), "unknown customer");
    ASSERT_EQ(limitr_check(e, "nobody", "seats", 1), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_value(e, "nobody", "seats", NULL, &v), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_customer");
    ASSERT_EQ(limitr_set_customer_plan(e, "nobody", "free", 0),
              LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_customer");
    ASSERT_EQ(limitr_set_alt_customer_id(e, "nobody", "x"), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_set_customer_refs(e, "nobody", "[]"), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_delete_customer(e, "nobody"), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_customer");

    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_STR(limitr_last_reason(e), "");
    ASSERT_STR(limitr_last_error(e), "");
    /* A decision's "no" is DENIED, with a code and a message. */
    ASSERT_EQ(limitr_allow(e, "c", "seats", 2, NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "limit");
    ASSERT_CONTAINS(limitr_last_error(e), "limit");
    ASSERT_EQ(limitr_increment(e, "c", "flag", NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "not_metered");
    /* A bad value is INVALID for allow and check alike. */
    ASSERT_EQ(limitr_allow_str(e, "c", "seats", "2 hours", NULL),
              LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "invalid_value");
    ASSERT_EQ(limitr_check_str(e, "c", "seats", "2 hours"), LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "invalid_value");
    /* Missing arguments: INVALID, invalid_argument, a message naming them. */
    ASSERT_EQ(limitr_allow(e, NULL, "seats", 1, NULL), LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "invalid_argument");
    ASSERT_CONTAINS(limitr_last_error(e), "required");
    ASSERT_EQ(limitr_set_customer_plan(e, "c", "free", 0), LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "same_plan");
    ASSERT_EQ(limitr_set_customer_plan(e, "c", "gold", 0), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_plan");
    limitr_free(e);
}

static const char *count_call(const char *args, const char **result, void *ud)
{
    (void)args;
    (void)result;
    ++*(int *)ud;
    return NULL;
}

/* limitr_lib with fn NULL removes a host function. */
TEST(host_functions_can_be_removed)
{
    limitr_engine *e = engine();
    int calls = 0;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_lib(e, "App", "meter_changed", count_call, &calls),
              LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "seats", 1, NULL), LIMITR_OK);
    ASSERT_EQ(calls, 1);
    ASSERT_EQ(limitr_lib(e, "App", "meter_changed", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "seats", -1, NULL), LIMITR_OK);
    ASSERT_EQ(calls, 1);
    ASSERT_EQ(limitr_lib(e, "App", "meter_changed", NULL, NULL),
              LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_lib");
    limitr_free(e);
}

TEST(null_engine)
{
    ASSERT_EQ(limitr_allow(NULL, "c", "seats", 1, NULL), LIMITR_INVALID);
    ASSERT_STR(limitr_last_error(NULL), "no engine");
    ASSERT_STR(limitr_last_reason(NULL), "no_engine");
    ASSERT_STR(limitr_strerror(LIMITR_NOT_FOUND), "not found");
    ASSERT_STR(limitr_strerror(LIMITR_STORE), "durable store error");
    ASSERT_STR(limitr_strerror(-9), "unknown status code");
    limitr_free(NULL);
}

int main(void)
{
    RUN(failed_engine_refuses_every_call);
    RUN(one_status_per_condition);
    RUN(host_functions_can_be_removed);
    RUN(null_engine);
    return HARNESS_EXIT();
}
