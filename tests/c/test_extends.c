/* test_extends.c: plans that extend plans (docs/policy.md 4 rule 2): the
 * parent's entitlements, replaced whole by name, removed with `false`. */
#include "engine_of.h"
#include "harness.h"

#include <stdlib.h>

static const char policy_yaml[] =
    "policy:\n"
    "  credits: {t: {}}\n"
    "  plans:\n"
    "    free:\n"
    "      entitlements:\n"
    "        csv: {}\n"
    "        chat: {limit: {credit: t, value: 10}}\n"
    "        seats: {limit: {credit: t, value: 1}}\n"
    "    pro:\n"
    "      extends: free\n"
    "      entitlements:\n"
    "        chat: {limit: {credit: t, value: 100, mode: soft}}\n"
    "        pdf: {}\n"
    "        seats: false\n"
    "    team:\n"
    "      extends: pro\n"
    "      entitlements:\n"
    "        seats: {limit: {credit: t, value: 20}}\n";

static double limit_of(limitr_engine *e, const char *plan, const char *ent)
{
    double v = -1;
    if (limitr_limit(e, plan, ent, &v) != LIMITR_OK) return -1;
    return v;
}

TEST(children_inherit_replace_and_remove)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    ASSERT(e != NULL);
    ASSERT_NUM(limit_of(e, "free", "chat"), 10);
    ASSERT_NUM(limit_of(e, "pro", "chat"), 100);  /* replaced whole */
    ASSERT_NUM(limit_of(e, "team", "chat"), 100); /* through pro */
    ASSERT_NUM(limit_of(e, "team", "seats"), 20); /* back, its own */
    ASSERT_EQ(limitr_create_customer(e, "p", "pro", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "t", "team", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "p", "csv", 1, NULL), LIMITR_OK); /* a flag */
    ASSERT_EQ(limitr_allow(e, "p", "pdf", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "p", "seats", 1, NULL), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_entitlement"); /* removed */
    ASSERT_EQ(limitr_allow(e, "t", "csv", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "t", "chat", 150, NULL), LIMITR_OK); /* soft */
    limitr_free(e);
}

TEST(broken_chains_and_removals_are_errors)
{
    ASSERT_STR(load_error("policy:\n  plans:\n    a: {extends: b}\n"),
               "plans.a.extends: unknown plan 'b' at 3:18");
    ASSERT_CONTAINS(load_error("policy:\n  plans:\n    a: {extends: b}\n"
                               "    b: {extends: a}\n"),
                    "plans.a.extends: plans extend each other in a cycle");
    ASSERT_CONTAINS(load_error("policy:\n  plans:\n    a: {extends: a}\n"),
                    "plans.a.extends: plans extend each other in a cycle");
    ASSERT_CONTAINS(load_error("policy:\n  plans:\n    a: {extends: 3}\n"),
                    "plans.a.extends: expected string");
    ASSERT_STR(load_error("policy:\n  plans:\n    a:\n      entitlements:\n"
                          "        x: false\n"),
               "plans.a.entitlements.x: 'false' removes an inherited "
               "entitlement: only in a plan that extends another at 5:12");
    ASSERT_STR(load_error("policy:\n  plans:\n    a: {}\n    b:\n      "
                          "extends: a\n      entitlements:\n        x: "
                          "false\n"),
               "plans.b.entitlements.x: 'false' removes an inherited "
               "entitlement, but the parent plan has none of this name at "
               "7:12");
}

TEST(an_inherited_problem_is_reported_once_where_written)
{
    ASSERT_STR(load_error("policy:\n  credits: {t: {}}\n  plans:\n    a:\n"
                          "      entitlements:\n        x: {limit: {credit: "
                          "t, value: -1}}\n    b: {extends: a}\n    c: "
                          "{extends: b}\n"),
               "plans.a.entitlements.x.limit.value: must not be negative, got "
               "-1 at 6:39");
}

/* n plans, each extending the next; the last one has x. */
static char *chain(int n)
{
    char *text = malloc((size_t)n * 64 + 200);
    size_t len = 0;
    int i;
    if (text == NULL) return NULL;
    len += (size_t)sprintf(text, "policy:\n  credits: {t: {}}\n  plans:\n");
    for (i = 0; i + 1 < n; i++)
        len +=
            (size_t)sprintf(text + len, "    p%d: {extends: p%d}\n", i, i + 1);
    sprintf(text + len,
            "    p%d: {entitlements: {x: {limit: {credit: t, value: 7}}}}\n",
            n - 1);
    return text;
}

TEST(a_broken_chain_hides_no_other_problem)
{
    const char *err =
        load_error("policy:\n  credits: {t: {}}\n  plans:\n    a: {extends: "
                   "nosuch, entitlements: {x: {limit: {credit: zzz}}}}\n    "
                   "b: {extends: a}\n");
    ASSERT_CONTAINS(err, "plans.a.extends: unknown plan 'nosuch'");
    ASSERT_CONTAINS(err, "plans.a.entitlements.x.limit.credit: unknown "
                         "credit 'zzz'");
    ASSERT(strstr(err, "plans.b.extends") == NULL); /* said once, by a */
}

TEST(inherited_entitlements_are_bounded_in_all)
{
    char *text = malloc(400 * 60 + 300 * 40 + 200);
    size_t len = 0;
    int i;
    ASSERT(text != NULL);
    len += (size_t)sprintf(text, "policy:\n  plans:\n    base:\n      "
                                 "entitlements:\n");
    for (i = 0; i < 400; i++)
        len += (size_t)sprintf(text + len, "        e%d: {}\n", i);
    for (i = 0; i < 300; i++)
        len += (size_t)sprintf(text + len, "    p%d: {extends: base}\n", i);
    ASSERT_CONTAINS(load_error(text), "the plans hold more than 100000 "
                                      "entitlements in all");
    free(text);
}

TEST(chains_are_bounded)
{
    char *ok = chain(30), *deep = chain(40);
    limitr_engine *e;
    ASSERT(ok != NULL && deep != NULL);
    e = engine_of(ok, NULL);
    ASSERT(e != NULL);
    ASSERT_NUM(limit_of(e, "p0", "x"), 7); /* 29 plans up */
    limitr_free(e);
    ASSERT_CONTAINS(load_error(deep), "plans.p0.extends: plans extend each "
                                      "other more than 32 deep");
    free(ok);
    free(deep);
}

int main(void)
{
    RUN(children_inherit_replace_and_remove);
    RUN(broken_chains_and_removals_are_errors);
    RUN(an_inherited_problem_is_reported_once_where_written);
    RUN(a_broken_chain_hides_no_other_problem);
    RUN(inherited_entitlements_are_bounded_in_all);
    RUN(chains_are_bounded);
    return harness_failures != 0;
}
