/* test_plan_fee.c: the plan fee from C (docs/engine.md 17, "The plan
 * fee"): nothing during the trial, then the fee once per period, and the
 * calls that cannot charge it. */
#include "engine_of.h"
#include "harness.h"
#include "recorder.h"

static const char policy_yaml[] =
    "policy:\n"
    "  credits:\n"
    "    fee: {price: {amount: 20}}\n"
    "    token: {}\n"
    "  plans:\n"
    "    base:\n"
    "      trial_period: 14days\n"
    "      entitlements:\n"
    "        subscription: {limit: {credit: fee, value: 0, mode: soft, "
    "resets: true, reset_inc: 30days}}\n"
    "    free:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        chat: {limit: {credit: token, value: 10}}\n";

#define DAY 86400000LL

static double value_of(limitr_engine *e, const char *id, const char *ent)
{
    double v = -1;
    if (limitr_value(e, id, ent, NULL, &v) != LIMITR_OK) return -1;
    return v;
}

TEST(the_fee_waits_for_the_trial_then_comes_once_per_period)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    recorder r = {{0}, {0}, 0};
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_set_time(e, 0), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "c", "base", NULL, NULL), LIMITR_OK);
    limitr_on(e, "meter-overage", record, &r, NULL);
    ASSERT_EQ(limitr_ensure_plan_subscription(e, "c"), LIMITR_OK);
    ASSERT_NUM(value_of(e, "c", "subscription"), 0);
    ASSERT_EQ(r.count, 0);
    ASSERT_EQ(limitr_set_time(e, 14 * DAY), LIMITR_OK);
    ASSERT_EQ(limitr_ensure_plan_subscription(e, "c"), LIMITR_OK);
    ASSERT_NUM(value_of(e, "c", "subscription"), 1);
    ASSERT_EQ(r.count, 1);
    ASSERT_CONTAINS(r.last, "\"price_diff\":20");
    ASSERT_EQ(limitr_ensure_plan_subscription(e, "c"), LIMITR_OK);
    ASSERT_EQ(r.count, 1); /* harmless again */
    ASSERT_EQ(limitr_set_time(e, 30 * DAY), LIMITR_OK); /* a new period */
    ASSERT_EQ(limitr_ensure_plan_subscription(e, "c"), LIMITR_OK);
    ASSERT_NUM(value_of(e, "c", "subscription"), 1);
    ASSERT_EQ(r.count, 2);
    limitr_free(e);
}

TEST(a_fee_nothing_names_is_not_found)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "f", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_ensure_plan_subscription(e, "f"), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "no_subscription");
    ASSERT_CONTAINS(limitr_last_error(e), "plan 'free'");
    ASSERT_CONTAINS(limitr_last_error(e), "'subscription'");
    ASSERT_EQ(limitr_ensure_plan_subscription(e, "ghost"), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_customer");
    ASSERT_EQ(limitr_ensure_plan_subscription(e, NULL), LIMITR_INVALID);
    limitr_free(e);
}

int main(void)
{
    RUN(the_fee_waits_for_the_trial_then_comes_once_per_period);
    RUN(a_fee_nothing_names_is_not_found);
    return harness_failures != 0;
}
