/* test_holds.c: reservations through the C API (docs/engine.md 19): hold
 * ids as text ("h<n>") and as numbers (the _n calls, whose id and
 * entitlement need no NUL), and what names no hold. */
#include "engine_of.h"
#include "harness.h"

static const char policy_yaml[] =
    "policy:\n"
    "  credits: {token: {}}\n"
    "  plans:\n"
    "    p:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        chat: {limit: {credit: token, value: 10}}\n";

static limitr_engine *engine_with_customer(void)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    if (e != NULL && limitr_create_customer(e, "u", NULL, NULL, NULL) != 0) {
        limitr_free(e);
        return NULL;
    }
    return e;
}

static double held(limitr_engine *e)
{
    double out = -1;
    if (limitr_held(e, "u", "chat", &out) != LIMITR_OK) return -1;
    return out;
}

static double value(limitr_engine *e)
{
    double out = -1;
    if (limitr_value(e, "u", "chat", NULL, &out) != LIMITR_OK) return -1;
    return out;
}

TEST(text_and_number_name_the_same_hold)
{
    limitr_engine *e = engine_with_customer();
    char text[24];
    uint64_t n = 0;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_reserve(e, "u", "chat", 2, NULL, text, sizeof text),
              LIMITR_OK);
    ASSERT_STR(text, "h1");
    /* the id and entitlement by length: the buffers go on past them */
    ASSERT_EQ(limitr_reserve_n(e, "uX", 1, "chatty", 4, 3, NULL, &n),
              LIMITR_OK);
    ASSERT_EQ(n, 2);
    ASSERT_NUM(held(e), 5);
    ASSERT_EQ(limitr_settle_n(e, "u", 1, "chat", 4, 1, 1, NULL), LIMITR_OK);
    ASSERT_NUM(held(e), 3);
    ASSERT_NUM(value(e), 1);
    ASSERT_EQ(limitr_release(e, "u", "chat", "h2"), LIMITR_OK);
    ASSERT_NUM(held(e), 0);
    ASSERT_EQ(limitr_release_n(e, "u", 1, "chat", 4, 2), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_hold");
    limitr_free(e);
}

TEST(what_names_no_hold)
{
    limitr_engine *e = engine_with_customer();
    uint64_t n = 0;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_reserve_n(e, "u", 1, "chat", 4, 2, NULL, &n), LIMITR_OK);
    ASSERT_EQ(limitr_release_n(e, "u", 1, "chat", 4, 0), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_release_n(e, "u", 1, "chat", 4, n + 1), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_release(e, "u", "chat", "1"), LIMITR_NOT_FOUND);
    ASSERT_NUM(held(e), 2);
    /* a settle of no hold still records, as an allow would */
    ASSERT_EQ(limitr_settle_n(e, "u", 1, "chat", 4, 0, 1, NULL), LIMITR_OK);
    ASSERT_NUM(value(e), 1);
    ASSERT_NUM(held(e), 2);
    ASSERT_EQ(limitr_settle_n(e, "nobody", 6, "chat", 4, n, 1, NULL),
              LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_customer");
    ASSERT_NUM(held(e), 2);
    limitr_free(e);
}

TEST(arguments_are_checked)
{
    limitr_engine *e = engine_with_customer();
    char text[24];
    uint64_t n;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_reserve(e, "u", "chat", 1, NULL, text, 23),
              LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "24-byte out");
    ASSERT_EQ(limitr_reserve_n(e, NULL, 0, "chat", 4, 1, NULL, &n),
              LIMITR_INVALID);
    ASSERT_EQ(limitr_reserve_n(e, "u", 1, "chat", 4, 1, NULL, NULL),
              LIMITR_INVALID);
    ASSERT_EQ(limitr_settle(e, "u", "chat", NULL, 1, NULL), LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "hold are required");
    ASSERT_EQ(limitr_settle_n(e, "u", 1, NULL, 0, 1, 1, NULL), LIMITR_INVALID);
    ASSERT_EQ(limitr_release(e, "u", "chat", NULL), LIMITR_INVALID);
    ASSERT_EQ(limitr_release_n(e, NULL, 0, "chat", 4, 1), LIMITR_INVALID);
    /* nothing to hold is a bad value, as for allow: one status for it */
    ASSERT_EQ(limitr_reserve_n(e, "u", 1, "chat", 4, 0, NULL, &n),
              LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "invalid_value");
    ASSERT_EQ(limitr_reserve_n(e, "u", 1, "chat", 4, -1, NULL, &n),
              LIMITR_INVALID);
    ASSERT_NUM(held(e), 0);
    ASSERT_NUM(value(e), 0);
    limitr_free(e);
}

/* A settle records usage that already happened (force): the room other
   holds keep denies it no more than the limit does, and its hold goes. */
TEST(a_settle_past_other_holds_room_is_recorded)
{
    limitr_engine *e = engine_with_customer();
    char h1[24], h2[24];
    limitr_call_opts forced = {NULL, 0, 1, 0, 0, NULL};
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_reserve(e, "u", "chat", 8, NULL, h1, sizeof h1),
              LIMITR_OK);
    ASSERT_EQ(limitr_reserve(e, "u", "chat", 2, NULL, h2, sizeof h2),
              LIMITR_OK);
    ASSERT_EQ(limitr_settle(e, "u", "chat", h1, 9, NULL), LIMITR_OK);
    ASSERT_NUM(value(e), 9);
    ASSERT_NUM(held(e), 2);
    ASSERT_EQ(limitr_allow(e, "u", "chat", 1, NULL), LIMITR_DENIED);
    ASSERT_EQ(limitr_allow(e, "u", "chat", 1, &forced), LIMITR_OK);
    ASSERT_NUM(value(e), 10);
    limitr_free(e);
}

/* The _str calls take a value string in the limit's credit units, as
   limitr_allow_str does; a bad one changes nothing. */
TEST(value_strings_are_converted_to_credit_units)
{
    static const char units_yaml[] =
        "policy:\n"
        "  credits: {data: {units: MB}}\n"
        "  plans:\n"
        "    p:\n"
        "      default: true\n"
        "      entitlements:\n"
        "        disk: {limit: {credit: data, value: 5GB}}\n";
    limitr_engine *e = engine_of(units_yaml, NULL);
    char h[24];
    double out = -1;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "u", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_reserve_str(e, "u", "disk", "2GB", NULL, h, sizeof h),
              LIMITR_OK);
    ASSERT_EQ(limitr_held(e, "u", "disk", &out), LIMITR_OK);
    ASSERT_NUM(out, 2000);
    ASSERT_EQ(limitr_reserve_str(e, "u", "disk", "ten", NULL, h, sizeof h),
              LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "invalid_value");
    ASSERT_EQ(limitr_settle_str(e, "u", "disk", h, "5 min", NULL),
              LIMITR_INVALID);
    ASSERT_EQ(limitr_settle_str(e, "u", "disk", h, "1.5GB", NULL), LIMITR_OK);
    ASSERT_EQ(limitr_value(e, "u", "disk", NULL, &out), LIMITR_OK);
    ASSERT_NUM(out, 1500);
    ASSERT_EQ(limitr_held(e, "u", "disk", &out), LIMITR_OK);
    ASSERT_NUM(out, 0);
    ASSERT_EQ(limitr_observe_str(e, "u", "disk", "1KB", NULL), LIMITR_OK);
    ASSERT_EQ(limitr_observe_str(e, "u", "disk", "1s", NULL), LIMITR_INVALID);
    ASSERT_EQ(limitr_observe_str(e, "u", "disk", NULL, NULL), LIMITR_INVALID);
    limitr_free(e);
}

int main(void)
{
    RUN(text_and_number_name_the_same_hold);
    RUN(what_names_no_hold);
    RUN(arguments_are_checked);
    RUN(a_settle_past_other_holds_room_is_recorded);
    RUN(value_strings_are_converted_to_credit_units);
    return harness_failures != 0;
}
