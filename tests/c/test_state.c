/* test_state.c: customer state apart from the engine: the home's lock is
 * taken once per outermost call, every byte of state comes from the home's
 * allocator, and the per-process caches stay right when the state changes
 * under them (a reused slot, an override, a ref). */
#include "engine.h"
#include "harness.h"
#include "engine_of.h"

static const char policy_yaml[] =
    "policy:\n"
    "  credits: {t: {}}\n"
    "  plans:\n"
    "    free:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        chat: {limit: {credit: t, value: 1}}\n"
    "        team_chat: {scope: team, limit: {credit: t, value: 1}}\n"
    "    pro:\n"
    "      entitlements:\n"
    "        chat: {limit: {credit: t, value: 100}}\n"
    "        team_chat: {scope: team, limit: {credit: t, value: 100}}\n";

static limitr_engine *engine_with(const limitr_options *o)
{
    return engine_of(policy_yaml, o);
}

/* ---- An allocator that counts, so the state's bytes can be told ---- */

typedef struct counting {
    long allocs, frees;
    long long bytes;
} counting;

static void *count_realloc(void *ud, void *ptr, size_t old_size,
                           size_t new_size)
{
    counting *c = ud;
    if (new_size == 0) {
        if (ptr != NULL) {
            c->frees++;
            c->bytes -= (long long)old_size;
        }
        free(ptr);
        return NULL;
    }
    if (ptr == NULL) c->allocs++;
    c->bytes += (long long)new_size - (long long)(ptr ? old_size : 0);
    return realloc(ptr, new_size);
}

TEST(state_memory_comes_from_its_home)
{
    counting cnt = {0, 0, 0};
    limitr_allocator alloc = {count_realloc, &cnt};
    limitr_options o;
    limitr_engine *e;
    long allocs_before;
    int i;
    char id[16];
    memset(&o, 0, sizeof o);
    o.allocator = &alloc;
    e = engine_with(&o);
    ASSERT(e != NULL);
    allocs_before = cnt.allocs;
    for (i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "c%d", i);
        ASSERT_EQ(limitr_create_customer(
                      e, id, i % 2 ? "pro" : NULL,
                      "{\"alt_ids\": [\"x\"], \"refs\": [\"c0\"]}", NULL),
                  i == 0 ? LIMITR_OK : LIMITR_INVALID); /* x is taken */
        if (i > 0)
            ASSERT_EQ(limitr_create_customer(e, id, NULL,
                                             "{\"refs\": [\"c0\"]}", NULL),
                      LIMITR_OK);
        ASSERT_EQ(limitr_allow(e, id, "chat", 1, NULL), LIMITR_OK);
    }
    ASSERT_EQ(limitr_create_customer_override(e, "c3", "chat", "{\"value\": 7}",
                                              NULL),
              LIMITR_OK);
    /* Records, IDs, refs, meters and overrides: all through the home. */
    ASSERT(cnt.allocs - allocs_before >= 200 * 4);
    ASSERT(cnt.bytes > 0);
    for (i = 0; i < 200; i += 2) {
        snprintf(id, sizeof id, "c%d", i);
        ASSERT_EQ(limitr_delete_customer(e, id), LIMITR_OK);
    }
    limitr_free(e);
    ASSERT_EQ(cnt.bytes, 0);
    ASSERT_EQ(cnt.allocs, cnt.frees);
}

/* A deleted customer's slot goes to the next one: its cached plan and
 * scope owner must not. */
TEST(caches_follow_the_state)
{
    limitr_engine *e = engine_with(NULL);
    double v;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "a", "pro", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "a", "chat", 50, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_delete_customer(e, "a"), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "b", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "b", "chat", 50, NULL), LIMITR_DENIED);
    ASSERT_EQ(limitr_limit(e, "b", "chat", &v), LIMITR_OK);
    ASSERT_NUM(v, 1);
    /* Scope owner: cached, then the ref changes. */
    ASSERT_EQ(
        limitr_create_customer(e, "t1", "pro", "{\"type\": \"team\"}", NULL),
        LIMITR_OK);
    ASSERT_EQ(
        limitr_create_customer(e, "t2", "free", "{\"type\": \"team\"}", NULL),
        LIMITR_OK);
    ASSERT_EQ(
        limitr_create_customer(e, "u", "pro", "{\"refs\": [\"t1\"]}", NULL),
        LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "team_chat", 5, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_value(e, "t1", "team_chat", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 5);
    ASSERT_EQ(limitr_set_customer_refs(e, "u", "[\"t2\"]"), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "team_chat", 5, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_value(e, "t2", "team_chat", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 5);
    /* Period ends: an override with a reset replaces the plan's none. */
    ASSERT_EQ(limitr_set_time(e, 1000), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "r", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "r", "chat", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_advance(e, 1000), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "r", "chat", 1, NULL), LIMITR_DENIED);
    ASSERT_EQ(
        limitr_create_customer_override(
            e, "r", "chat", "{\"resets\": true, \"reset_inc\": 1000}", NULL),
        LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "r", "chat", 1, NULL), LIMITR_OK); /* rolled */
    ASSERT_EQ(limitr_allow(e, "r", "chat", 1, NULL), LIMITR_DENIED);
    ASSERT_EQ(limitr_remove_customer_override(e, "r", "chat"), LIMITR_OK);
    ASSERT_EQ(limitr_advance(e, 5000), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "r", "chat", 1, NULL), LIMITR_DENIED);
    limitr_free(e);
}

/* An `error` handler runs in the middle of the decision whose snippet
 * failed: it may read, but not delete the customer the decision holds. */
static const char *delete_c(const char *name, const char *json, void *ud)
{
    (void)name;
    (void)json;
    return limitr_delete_customer(ud, "c") == LIMITR_OK ? NULL : "refused";
}

TEST(error_handlers_cannot_pull_the_decision_away)
{
    static const char yaml[] =
        "policy:\n"
        "  credits:\n"
        "    t: {overhead: \"function(units, ctx) error('boom') end\"}\n"
        "  plans:\n"
        "    p:\n"
        "      default: true\n"
        "      entitlements:\n"
        "        a: {limit: {credit: t, value: 10}}\n"
        "        s: {limit: {credit: t, value: 1, mode: soft,\n"
        "            on_exceed: 'function(ctx) return 42 end'}}\n";
    limitr_engine *e = NULL;
    double v;
    ASSERT_EQ(limitr_new(yaml, strlen(yaml), "yaml", NULL, &e), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "error", delete_c, e, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "a", 1, NULL), LIMITR_OK); /* cost fails */
    ASSERT_EQ(limitr_allow(e, "c", "s", 5, NULL), LIMITR_OK); /* on_exceed */
    ASSERT_EQ(limitr_value(e, "c", "a", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 1);
    ASSERT_EQ(limitr_value(e, "c", "s", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 5);
    limitr_free(e);
}

/* Subscribers that call the engine that fires them again: delivery stops
 * LIMITR_MAX_EVENT_DEPTH (16) levels down, with an error, where it used to
 * overflow the stack. */
typedef struct recursing {
    limitr_engine *e;
    int calls, refused, errors;
    char last_error[200];
} recursing;

static const char *allow_again(const char *name, const char *json, void *ud)
{
    recursing *r = ud;
    (void)name;
    (void)json;
    r->calls++;
    if (limitr_allow(r->e, "c", "chat", -1, NULL) == LIMITR_ERROR) {
        r->refused++;
        snprintf(r->last_error, sizeof r->last_error, "%s",
                 limitr_last_reason(r->e));
    }
    return NULL;
}

static const char *create_more(const char *name, const char *json, void *ud)
{
    recursing *r = ud;
    char id[32];
    (void)name;
    (void)json;
    snprintf(id, sizeof id, "n%d", ++r->calls);
    if (limitr_create_customer(r->e, id, NULL, NULL, NULL) == LIMITR_ERROR)
        r->refused++;
    return NULL;
}

static const char *count_error(const char *name, const char *json, void *ud)
{
    recursing *r = ud;
    (void)name;
    if (strstr(json, "events nest more than 16 deep") != NULL) r->errors++;
    return NULL;
}

TEST(event_delivery_depth_is_bounded)
{
    limitr_engine *e = engine_with(NULL);
    recursing r;
    double v;
    ASSERT(e != NULL);
    memset(&r, 0, sizeof r);
    r.e = e;
    ASSERT_EQ(limitr_create_customer(e, "c", "pro", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "meter-changed", allow_again, &r, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "error", count_error, &r, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "chat", 50, NULL), LIMITR_OK);
    ASSERT_EQ(r.calls, 16);
    ASSERT_EQ(r.refused, 1);
    ASSERT_STR(r.last_error, "event_depth");
    ASSERT_EQ(r.errors, 1);
    ASSERT_EQ(limitr_value(e, "c", "chat", NULL, &v), LIMITR_OK);
    ASSERT_NUM(v, 50 - 15); /* 15 nested calls committed */
    limitr_free(e);

    e = engine_with(NULL);
    ASSERT(e != NULL);
    memset(&r, 0, sizeof r);
    r.e = e;
    ASSERT_EQ(limitr_on(e, "customer-set", create_more, &r, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "first", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(r.calls, 16);
    ASSERT_EQ(r.refused, 1);
    limitr_free(e);
}

int main(void)
{
    RUN(state_memory_comes_from_its_home);
    RUN(caches_follow_the_state);
    RUN(error_handlers_cannot_pull_the_decision_away);
    RUN(event_delivery_depth_is_bounded);
    return HARNESS_EXIT();
}
