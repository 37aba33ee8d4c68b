/* test_lib.c: host functions (limitr_lib, limitr_lib_items): a snippet's
 * arguments reach them as JSON or as items, and their results come back. */
#include "engine_of.h"
#include "harness.h"

/* x's limit asks App.f; the answer's fields add up to the limit. */
static const char policy_yaml[] =
    "policy:\n"
    "  credits: {t: {}}\n"
    "  plans:\n"
    "    p:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        y: {limit: {credit: t, value: 10}}\n"
    "        x:\n"
    "          limit:\n"
    "            credit: t\n"
    "            value: |\n"
    "              function(customer)\n"
    "                local r = App.f(1, 'two', true, nil, {3, {k = false}})\n"
    "                return r.n + #r.list + (r.ok and 100 or 0)\n"
    "              end\n";

typedef struct got {
    char args[256];
    const char *answer;
    size_t n_args;
    int kinds[16];
} got;

static const char *json_f(const char *args, const char **result, void *ud)
{
    got *g = ud;
    snprintf(g->args, sizeof g->args, "%s", args);
    *result = g->answer;
    return NULL;
}

TEST(json_host_gets_json_and_answers_json)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    got g;
    double limit = 0;
    memset(&g, 0, sizeof g);
    g.answer = "{\"n\": 7, \"list\": [1, 2], \"ok\": true}";
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_lib(e, "App", "f", json_f, &g), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_limit(e, "c", "x", &limit), LIMITR_OK);
    ASSERT_NUM(limit, 109);
    ASSERT_STR(g.args, "[1,\"two\",true,null,[3,{\"k\":false}]]");
    g.answer = "not json"; /* a bad answer is the snippet's error */
    ASSERT_EQ(limitr_limit(e, "c", "x", &limit), LIMITR_SCRIPT);
    limitr_free(e);
}

static const limitr_item answer[] = {
    {"", LIMITR_ITEM_TABLE, 0, NULL, 3, 0},
    {"n", LIMITR_ITEM_NUMBER, 5, NULL, 0, 0},
    {"list", LIMITR_ITEM_ARRAY, 0, NULL, 1, 0},
    {NULL, LIMITR_ITEM_STRING, 0, "a", 0, 0},
    {"ok", LIMITR_ITEM_BOOLEAN, 0, NULL, 0, 0},
};

static const char *items_f(const limitr_item *args, size_t n,
                           const limitr_item **result, size_t *n_result,
                           void *ud)
{
    got *g = ud;
    size_t i;
    g->n_args = n;
    for (i = 0; i < n && i < 16; i++)
        g->kinds[i] = (int)args[i].kind;
    if (args[0].kind != LIMITR_ITEM_ARRAY || args[0].size != 5)
        return "arguments are not a list of 5";
    if (strcmp(args[2].text, "two") != 0) return "argument 2 is not 'two'";
    *result = answer;
    *n_result = sizeof answer / sizeof answer[0];
    return NULL;
}

TEST(items_host_gets_items_and_answers_items)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    got g;
    double limit = 0;
    static const int kinds[] = {
        LIMITR_ITEM_ARRAY,   LIMITR_ITEM_NUMBER, LIMITR_ITEM_STRING,
        LIMITR_ITEM_BOOLEAN, LIMITR_ITEM_NULL,   LIMITR_ITEM_ARRAY,
        LIMITR_ITEM_NUMBER,  LIMITR_ITEM_TABLE,  LIMITR_ITEM_BOOLEAN};
    size_t i;
    memset(&g, 0, sizeof g);
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_lib_items(e, "App", "f", items_f, &g), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_limit(e, "c", "x", &limit), LIMITR_OK);
    ASSERT_NUM(limit, 6); /* n 5 + one list entry; ok is false */
    ASSERT_EQ(g.n_args, 9);
    for (i = 0; i < 9; i++)
        ASSERT_EQ(g.kinds[i], kinds[i]);
    ASSERT_EQ(limitr_lib_items(e, "App", "f", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_lib(e, "App", "f", NULL, NULL), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_limit(e, "c", "x", &limit), LIMITR_SCRIPT); /* gone */
    ASSERT_EQ(limitr_lib_items(e, "bad-lib", "f", items_f, &g), LIMITR_INVALID);
    limitr_free(e);
}

typedef struct app_seen {
    int calls;
    char first[64]; /* the first argument's kind and text */
    size_t n;
    int snapshot_at; /* index of the SNAPSHOT item */
} app_seen;

static const char *app_f(const limitr_item *args, size_t n,
                         const limitr_item **result, size_t *n_result, void *ud)
{
    app_seen *s = ud;
    size_t i;
    (void)result;
    (void)n_result;
    s->calls++;
    s->n = n;
    snprintf(s->first, sizeof s->first, "%d:%zu:%d:%s", (int)args[0].kind,
             args[0].size, (int)args[1].kind,
             args[1].kind == LIMITR_ITEM_STRING ? args[1].text : "");
    for (i = 0; i < n; i++)
        if (args[i].kind == LIMITR_ITEM_SNAPSHOT) s->snapshot_at = (int)i;
    return NULL;
}

TEST(app_functions_get_the_payload_items)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    app_seen changed, all;
    char expect[64];
    memset(&changed, 0, sizeof changed);
    memset(&all, 0, sizeof all);
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_lib_items(e, "App", "meter_changed", app_f, &changed),
              LIMITR_OK);
    ASSERT_EQ(limitr_lib_items(e, "App", "event_handler", app_f, &all),
              LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "y", 1, NULL), LIMITR_OK);
    ASSERT_EQ(changed.calls, 1);
    snprintf(expect, sizeof expect, "%d:1:%d:", LIMITR_ITEM_ARRAY,
             LIMITR_ITEM_TABLE); /* [payload] */
    ASSERT_STR(changed.first, expect);
    ASSERT_EQ(changed.snapshot_at, 2);
    snprintf(expect, sizeof expect, "%d:2:%d:customer-set", LIMITR_ITEM_ARRAY,
             LIMITR_ITEM_STRING); /* [name, payload] */
    ASSERT_EQ(all.calls, 2);      /* customer-set, meter-changed */
    limitr_free(e);
}

/* Malformed results, one per call. */
static const limitr_item short_table[] = {
    {"", LIMITR_ITEM_TABLE, 0, NULL, 2, 0},
    {"n", LIMITR_ITEM_NUMBER, 5, NULL, 0, 0},
};
static const limitr_item keyless[] = {
    {"", LIMITR_ITEM_TABLE, 0, NULL, 1, 0},
    {NULL, LIMITR_ITEM_NUMBER, 5, NULL, 0, 0},
};
static const limitr_item json_result[] = {
    {"", LIMITR_ITEM_JSON, 0, "{}", 0, 0},
};
static const limitr_item leftover[] = {
    {"", LIMITR_ITEM_NUMBER, 5, NULL, 0, 0},
    {"", LIMITR_ITEM_NUMBER, 6, NULL, 0, 0},
};
static const struct {
    const limitr_item *items;
    size_t n;
    const char *why;
} bad_results[] = {
    {short_table, 2, "more entries than items follow"},
    {keyless, 2, "a table entry without a key"},
    {json_result, 1, "only numbers, strings"},
    {leftover, 2, "items left over"},
};

static const char *bad_f(const limitr_item *args, size_t n,
                         const limitr_item **result, size_t *n_result, void *ud)
{
    const int *which = ud;
    (void)args;
    (void)n;
    *result = bad_results[*which].items;
    *n_result = bad_results[*which].n;
    return NULL;
}

static const char *last_error(const char *name, const char *payload, void *ud)
{
    (void)name;
    snprintf(ud, 256, "%s", payload);
    return NULL;
}

TEST(malformed_results_fail_the_call)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    char error[256];
    double limit;
    int which;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "error", last_error, error, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_lib_items(e, "App", "f", bad_f, &which), LIMITR_OK);
    for (which = 0; which < 4; which++) {
        error[0] = '\0';
        ASSERT_EQ(limitr_limit(e, "c", "x", &limit), LIMITR_SCRIPT);
        ASSERT_CONTAINS(error, "App.f: result: ");
        ASSERT_CONTAINS(error, bad_results[which].why);
    }
    limitr_free(e);
}

int main(void)
{
    RUN(json_host_gets_json_and_answers_json);
    RUN(items_host_gets_items_and_answers_items);
    RUN(app_functions_get_the_payload_items);
    RUN(malformed_results_fail_the_call);
    return harness_failures != 0;
}
