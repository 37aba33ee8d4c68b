/* test_script.c: the snippet budgets are engine options (limitr_options),
 * and each one stops a snippet with its own message; C host libraries are
 * callable from snippets; a call's changes to the chunk's variables are
 * undone; an on_exceed reason crosses whole; a cost is runes >= 0; value
 * snippets reading each other in a cycle fail once. */
#include "harness.h"
#include "limitr.h"

static const char policy_fmt[] =
    "policy:\n"
    "  credits: {c: {}}\n"
    "  plans:\n"
    "    p:\n"
    "      entitlements:\n"
    "        e: {limit: {credit: c, value: \"function(customer) %s end\"}}\n";

typedef struct seen {
    char message[512];
} seen;

static const char *count_error(const char *name, const char *json, void *ud)
{
    (void)name;
    (void)json;
    (*(int *)ud)++;
    return NULL;
}

static const char *on_error(const char *name, const char *json, void *ud)
{
    seen *s = ud;
    (void)name;
    snprintf(s->message, sizeof s->message, "%s", json);
    return NULL;
}

/* Loads a policy whose limit is the snippet body, reads the limit. Returns
 * the read's status; the error event's payload is in s. */
static int limit_with(const char *body, const limitr_options *opts, seen *s,
                      double *limit)
{
    char text[1024];
    limitr_engine *e = NULL;
    int status;
    snprintf(text, sizeof text, policy_fmt, body);
    if (limitr_new(text, strlen(text), "yaml", opts, &e) != LIMITR_OK) {
        fprintf(stderr, "%s\n", limitr_last_error(e));
        limitr_free(e);
        return -100;
    }
    limitr_on(e, "error", on_error, s, NULL);
    limitr_create_customer(e, "x", "p", NULL, NULL);
    status = limitr_limit(e, "x", "e", limit);
    limitr_free(e);
    return status;
}

TEST(instruction_budget_option)
{
    limitr_options o = {NULL, 5000, 600000, 0, 0};
    seen s = {{0}};
    double v;
    ASSERT_EQ(limit_with("local n = 0 for i = 1, 100 do n = n + i end return n",
                         &o, &s, &v),
              LIMITR_OK);
    ASSERT_NUM(v, 5050);
    ASSERT_EQ(limit_with("local n = 0 for i = 1, 100000 do n = n + i end "
                         "return n",
                         &o, &s, &v),
              LIMITR_BUDGET);
    ASSERT_CONTAINS(s.message, "snippet instruction budget exhausted");
}

TEST(deadline_option)
{
    limitr_options o = {NULL, 2000000000L, 20, 0, 0};
    seen s = {{0}};
    double v;
    ASSERT_EQ(limit_with("while true do end", &o, &s, &v), LIMITR_BUDGET);
    ASSERT_CONTAINS(s.message, "\"message\":\"snippet deadline exceeded\"");
    ASSERT_CONTAINS(s.message,
                    "\"path\":\"plans.p.entitlements.e.limit.value\"");
}

TEST(memory_option)
{
    limitr_options o = {NULL, 0, 600000, 4u * 1024u * 1024u,
                        0}; /* no deadline: valgrind is slow */
    seen s = {{0}};
    double v;
    ASSERT_EQ(limit_with("local t = {} for i = 1, 1e6 do t[i] = {i} end "
                         "return 1",
                         &o, &s, &v),
              LIMITR_MEMCAP);
    ASSERT_CONTAINS(s.message, "snippet memory limit exceeded");
    ASSERT_EQ(limit_with("local t = {} for i = 1, 100 do t[i] = {i} end "
                         "return #t",
                         &o, &s, &v),
              LIMITR_OK);
    ASSERT_NUM(v, 100);
}

TEST(pattern_budget_option)
{
    limitr_options o = {NULL, 0, 0, 0, 100};
    seen s = {{0}};
    double v;
    ASSERT_EQ(
        limit_with("return #(('abc'):rep(100):gsub('b', 'x'))", &o, &s, &v),
        LIMITR_SCRIPT);
    ASSERT_CONTAINS(s.message, "pattern too complex (work budget exhausted)");
}

static const char *quota(const char *args, const char **result, void *ud)
{
    (void)ud;
    *result = strstr(args, "\"vip\"") ? "50" : "5";
    return NULL;
}

TEST(c_host_library_from_a_snippet)
{
    const char *text =
        "policy:\n"
        "  credits: {c: {}}\n"
        "  plans:\n"
        "    p:\n"
        "      entitlements:\n"
        "        e: {limit: {credit: c, value: \"function(cu) return "
        "Host.quota(cu.id, {tier = cu.type}) end\"}}\n";
    limitr_engine *e = NULL;
    double v;
    ASSERT_EQ(limitr_new(text, strlen(text), "yaml", NULL, &e), LIMITR_OK);
    ASSERT_EQ(limitr_lib(e, "Host", "quota", quota, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_lib(e, "string", "x", quota, NULL), LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "'string' is a name of the snippet "
                                          "sandbox");
    limitr_create_customer(e, "vip", "p", NULL, NULL);
    limitr_create_customer(e, "joe", "p", NULL, NULL);
    ASSERT_EQ(limitr_limit(e, "vip", "e", &v), LIMITR_OK);
    ASSERT_NUM(v, 50);
    ASSERT_EQ(limitr_limit(e, "joe", "e", &v), LIMITR_OK);
    ASSERT_NUM(v, 5);
    limitr_free(e);
}

/* docs/sandbox.md rule 6: the chunk's variables a call changed are put
 * back after it, a nil one and those after it included (a nil once
 * shifted every kept value after it). */
TEST(a_calls_changes_to_the_chunks_variables_are_undone)
{
    static const char text[] =
        "policy:\n"
        "  lua: |\n"
        "    local a = 1\n"
        "    local calls\n"
        "    local b = 10\n"
        "    function first_call()\n"
        "      local seen = calls\n"
        "      calls = true\n"
        "      a, b = a + 1, b + 1\n"
        "      return (seen == nil and 1 or 1000) + a + b\n"
        "    end\n"
        "  credits: {c: {}}\n"
        "  plans:\n"
        "    p:\n"
        "      entitlements:\n"
        "        e: {limit: {credit: c, value: \"function() return "
        "first_call() end\"}}\n";
    limitr_engine *e = NULL;
    double v = 0;
    int i;
    ASSERT_EQ(limitr_new(text, strlen(text), "yaml", NULL, &e), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "x", "p", NULL, NULL), LIMITR_OK);
    for (i = 0; i < 3; i++) {
        ASSERT_EQ(limitr_limit(e, "x", "e", &v), LIMITR_OK);
        ASSERT_NUM(v, 1 + 2 + 11);
    }
    limitr_free(e);
}

/* docs/engine.md 4.5: an on_exceed reason crosses whole or the snippet
 * fails (an error event; the hard mode's "limit" applies). */
TEST(an_on_exceed_reason_is_never_cut)
{
    static const char fmt[] =
        "policy:\n"
        "  credits: {c: {}}\n"
        "  plans:\n"
        "    p:\n"
        "      entitlements:\n"
        "        e: {limit: {credit: c, value: 1, on_exceed: \"function() "
        "return false, string.rep('x', %d) end\"}}\n";
    char text[512], want[128];
    int n;
    for (n = 127; n <= 128; n++) {
        limitr_engine *e = NULL;
        seen s = {{0}};
        snprintf(text, sizeof text, fmt, n);
        ASSERT_EQ(limitr_new(text, strlen(text), "yaml", NULL, &e), LIMITR_OK);
        limitr_on(e, "error", on_error, &s, NULL);
        ASSERT_EQ(limitr_create_customer(e, "x", "p", NULL, NULL), LIMITR_OK);
        ASSERT_EQ(limitr_allow(e, "x", "e", 2, NULL), LIMITR_DENIED);
        if (n == 127) {
            memset(want, 'x', 127);
            want[127] = '\0';
            ASSERT_STR(limitr_last_reason(e), want);
            ASSERT_STR(s.message, "");
        } else {
            ASSERT_STR(limitr_last_reason(e), "limit");
            ASSERT_CONTAINS(s.message, "at most 127 bytes");
        }
        limitr_free(e);
    }
}

/* docs/engine.md 4.11: a cost function's result is taken only as runes
 * >= 0 (what opts.overhead may be); else units * overhead_cost, and an
 * error event. */
TEST(a_negative_cost_falls_back_to_the_rate)
{
    static const char text[] =
        "policy:\n"
        "  credits:\n"
        "    odd: {overhead_cost: 0.5, overhead: \"function(units) return "
        "-units end\"}\n"
        "  plans: {p: {entitlements: {x: {limit: {credit: odd, value: "
        "100}}}}}\n";
    limitr_engine *e = NULL;
    seen s = {{0}};
    const char *json = NULL;
    ASSERT_EQ(limitr_new(text, strlen(text), "yaml", NULL, &e), LIMITR_OK);
    limitr_on(e, "error", on_error, &s, NULL);
    ASSERT_EQ(limitr_create_customer(e, "a", "p", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "a", "x", 4, NULL), LIMITR_OK);
    ASSERT_CONTAINS(s.message, "must return runes >= 0");
    ASSERT_CONTAINS(s.message, "not -4");
    ASSERT_EQ(limitr_customer(e, "a", &json), LIMITR_OK);
    ASSERT_CONTAINS(json, "\"overhead\":2");
    limitr_free(e);
}

/* docs/sandbox.md rule 20: limit snippets that read each other in a cycle
 * fail the call once, with one error event (the outer one went on with a
 * missing read). */
TEST(a_cycle_of_value_snippets_fails_once)
{
    static const char text[] =
        "policy:\n"
        "  credits: {c: {}}\n"
        "  plans:\n"
        "    p:\n"
        "      default: true\n"
        "      entitlements:\n"
        "        a: {limit: {credit: c, value: \"function() return "
        "(limitr.value('b') or 0) + 10 end\"}}\n"
        "        b: {limit: {credit: c, value: \"function() return "
        "(limitr.value('a') or 0) + 20 end\"}}\n";
    limitr_engine *e = NULL;
    int errors = 0;
    double v = 0;
    ASSERT_EQ(limitr_new(text, strlen(text), "yaml", NULL, &e), LIMITR_OK);
    limitr_on(e, "error", count_error, &errors, NULL);
    ASSERT_EQ(limitr_create_customer(e, "x", NULL, NULL, NULL), LIMITR_OK);
    ASSERT(limitr_allow(e, "x", "a", 1, NULL) != LIMITR_OK);
    ASSERT_STR(limitr_last_reason(e), "error");
    ASSERT_EQ(errors, 1);
    ASSERT(limitr_limit(e, "x", "b", &v) != LIMITR_OK);
    ASSERT_EQ(errors, 2);
    limitr_free(e);
}

int main(void)
{
    RUN(instruction_budget_option);
    RUN(deadline_option);
    RUN(memory_option);
    RUN(pattern_budget_option);
    RUN(c_host_library_from_a_snippet);
    RUN(a_calls_changes_to_the_chunks_variables_are_undone);
    RUN(an_on_exceed_reason_is_never_cut);
    RUN(a_negative_cost_falls_back_to_the_rate);
    RUN(a_cycle_of_value_snippets_fails_once);
    return HARNESS_EXIT();
}
