/* test_alloc.c: every allocation failure of the engine's allocator gives a
 * clean LIMITR_NOMEM, leaves state unchanged and leaks nothing (the SQLite
 * way: fail the N-th allocation, for N = 1, 2, ... until the call works). */
#include "harness.h"
#include "limitr.h"

typedef struct failing {
    long countdown; /* allocations left before one fails; < 0: never */
    long live;      /* allocations not yet freed */
} failing;

static void *failing_realloc(void *ud, void *ptr, size_t old_size,
                             size_t new_size)
{
    failing *f = ud;
    (void)old_size;
    if (new_size == 0) {
        if (ptr != NULL) f->live--;
        free(ptr);
        return NULL;
    }
    if (f->countdown == 0) return NULL;
    if (f->countdown > 0) f->countdown--;
    if (ptr == NULL) {
        void *p = malloc(new_size);
        if (p != NULL) f->live++;
        return p;
    }
    return realloc(ptr, new_size);
}

static const char policy[] =
    "policy: {credits: {seat: {}}, plans: {free: {default: true, "
    "entitlements: {seats: {limit: {credit: seat, value: 3}}, "
    "chat: {limit: {credit: seat, value: 3}}}}}}";

TEST(engine_creation)
{
    long n;
    for (n = 0;; n++) {
        failing f = {n, 0};
        limitr_allocator a = {failing_realloc, &f};
        limitr_options o = {&a, 0, 0, 0, 0};
        limitr_engine *e = NULL;
        int status = limitr_new(policy, strlen(policy), NULL, &o, &e);
        limitr_free(e);
        ASSERT_EQ(f.live, 0);
        if (status == LIMITR_OK) break;
        ASSERT_EQ(status, LIMITR_NOMEM);
        ASSERT(n < 100);
    }
}

TEST(customer_creation_and_decisions)
{
    long n;
    for (n = 0;; n++) {
        failing f = {-1, 0};
        limitr_allocator a = {failing_realloc, &f};
        limitr_options o = {&a, 0, 0, 0, 0};
        limitr_engine *e = NULL;
        const char *snap;
        int status, i;
        char id[16];
        double v;
        ASSERT_EQ(limitr_new(policy, strlen(policy), NULL, &o, &e), LIMITR_OK);
        /* Enough customers that the map grows while allocations fail. */
        for (i = 0; i < 60; i++) {
            snprintf(id, sizeof id, "c%d", i);
            ASSERT_EQ(limitr_create_customer(e, id, NULL, NULL, NULL),
                      LIMITR_OK);
        }
        f.countdown = n;
        status = limitr_create_customer(
            e, "new", NULL, "{\"type\":\"org\",\"label\":\"L\"}", NULL);
        f.countdown = -1;
        if (status != LIMITR_OK) {
            ASSERT_EQ(status, LIMITR_NOMEM);
            ASSERT_STR(limitr_last_error(e), "out of memory");
            ASSERT_EQ(limitr_customer(e, "new", &snap), LIMITR_NOT_FOUND);
        }
        /* Decisions on existing customers allocate nothing. */
        f.countdown = 0;
        ASSERT_EQ(limitr_allow(e, "c1", "seats", 1, NULL), LIMITR_OK);
        ASSERT_EQ(limitr_allow(e, "c1", "seats", 5, NULL), LIMITR_DENIED);
        ASSERT_EQ(limitr_value(e, "c1", "seats", NULL, &v), LIMITR_OK);
        f.countdown = -1;
        limitr_free(e);
        ASSERT_EQ(f.live, 0);
        if (status == LIMITR_OK) break;
        ASSERT(n < 100);
    }
}

static const char economy_policy[] =
    "policy: {credits: {tok: {price: {amount: 0.1}}}, plans: {p: {default: "
    "true, entitlements: {chat: {limit: {credit: tok, value: 0, mode: soft}}},"
    " topups: {pack: {credit: tok, value: 5, included: true}, more: {credit: "
    "tok, value: 5}}}}}";

/* Grants, top-ups and caps: a failed allocation is LIMITR_NOMEM with the
 * customer's grants and caps as they were, and nothing leaks. */
TEST(grants_and_caps)
{
    long n;
    for (n = 0;; n++) {
        failing f = {-1, 0};
        limitr_allocator a = {failing_realloc, &f};
        limitr_options o = {&a, 0, 0, 0, 0};
        limitr_engine *e = NULL;
        const char *json;
        int s1, s2, s3, s4;
        ASSERT_EQ(
            limitr_new(economy_policy, strlen(economy_policy), NULL, &o, &e),
            LIMITR_OK);
        ASSERT_EQ(
            limitr_create_customer(e, "org", NULL, "{\"type\":\"org\"}", NULL),
            LIMITR_OK);
        ASSERT_EQ(
            limitr_create_customer(e, "c", NULL, "{\"refs\":[\"org\"]}", NULL),
            LIMITR_OK);
        f.countdown = n;
        s1 = limitr_add_customer_cap(
            e, "org",
            "{\"value\": 100, \"shared\": true, \"scope\": [\"chat\"]}", NULL);
        s2 = limitr_add_customer_grant(
            e, "c", "{\"credit\": \"usd\", \"value\": 1}", NULL);
        s3 = limitr_apply_customer_topup(e, "c", "more");
        s4 = limitr_allow(e, "c", "chat", 30, NULL);
        f.countdown = -1;
        ASSERT(s1 == LIMITR_OK || s1 == LIMITR_NOMEM);
        ASSERT(s2 == LIMITR_OK || s2 == LIMITR_NOMEM);
        ASSERT(s3 == LIMITR_OK || s3 == LIMITR_NOMEM);
        ASSERT(s4 == LIMITR_OK || s4 == LIMITR_NOMEM);
        ASSERT_EQ(limitr_customer_caps(e, "org", &json), LIMITR_OK);
        if (s1 == LIMITR_OK)
            ASSERT_CONTAINS(json, "\"shared\":true");
        else
            ASSERT_STR(json, "[]"); /* nothing half added */
        ASSERT_EQ(limitr_allow(e, "c", "chat", 1, NULL), LIMITR_OK);
        limitr_free(e);
        ASSERT_EQ(f.live, 0);
        if (s1 == LIMITR_OK && s2 == LIMITR_OK && s3 == LIMITR_OK &&
            s4 == LIMITR_OK)
            break;
        ASSERT(n < 200);
    }
}

/* An import that runs out of memory at any allocation changes nothing: the
 * engine's export is the same before and after, and nothing leaks. */
TEST(import_all_or_nothing)
{
    limitr_engine *src = NULL;
    const char *json, *text;
    size_t len;
    char *doc;
    long n;
    int replace;
    ASSERT_EQ(
        limitr_new(economy_policy, strlen(economy_policy), NULL, NULL, &src),
        LIMITR_OK);
    limitr_set_time(src, 1774872000000LL);
    limitr_create_customer(src, "org", NULL,
                           "{\"type\":\"org\",\"alt_ids\":[\"o\"]}", NULL);
    limitr_create_customer(
        src, "c", NULL, "{\"refs\":[\"org\"],\"metadata\":{\"k\":[1]}}", NULL);
    limitr_add_customer_cap(src, "org", "{\"value\": 100, \"shared\": true}",
                            NULL);
    limitr_add_customer_grant(src, "c", "{\"credit\": \"usd\", \"value\": 1}",
                              NULL);
    limitr_allow(src, "c", "chat", 30, NULL);
    ASSERT_EQ(limitr_export(src, NULL, &json, &len), LIMITR_OK);
    doc = malloc(len + 1);
    ASSERT(doc != NULL);
    memcpy(doc, json, len + 1);
    for (replace = 0; replace <= 1; replace++)
        for (n = 0;; n++) {
            failing f = {-1, 0};
            limitr_allocator a = {failing_realloc, &f};
            limitr_options o = {&a, 0, 0, 0, 0};
            limitr_engine *e = NULL;
            char before[4096];
            int status;
            ASSERT_EQ(limitr_new(economy_policy, strlen(economy_policy), NULL,
                                 &o, &e),
                      LIMITR_OK);
            limitr_set_time(e, 1774872000000LL);
            limitr_create_customer(e, "other", NULL, NULL, NULL);
            ASSERT_EQ(limitr_export(e, NULL, &text, NULL), LIMITR_OK);
            snprintf(before, sizeof before, "%s", text);
            f.countdown = n;
            status = limitr_import(e, doc, len, replace, NULL);
            f.countdown = -1;
            ASSERT_EQ(limitr_export(e, NULL, &text, NULL), LIMITR_OK);
            if (status == LIMITR_OK) {
                ASSERT_CONTAINS(text, "\"id\":\"org\"");
                ASSERT(replace == (strstr(text, "\"other\"") == NULL));
            } else {
                ASSERT_EQ(status, LIMITR_NOMEM);
                ASSERT_STR(text, before);
            }
            limitr_free(e);
            ASSERT_EQ(f.live, 0);
            if (status == LIMITR_OK) break;
            ASSERT(n < 500);
        }
    free(doc);
    limitr_free(src);
}

/* A reload that runs out of memory at any allocation changes nothing. */
TEST(reload_all_or_nothing)
{
    static const char next[] =
        "policy: {credits: {tok: {units: GB, price: {amount: 0.1}}}, "
        "estimates: {chat: {premium: {samples: 3, value_mean: 2}}}, "
        "plans: {p: {default: true, entitlements: {chat: {limit: {credit: "
        "tok, value: 10, mode: soft}}, more: {limit: {credit: tok, value: "
        "1}}}}}}";
    static const char first[] =
        "policy: {credits: {tok: {units: MB, price: {amount: 0.1}}}, "
        "estimates: {chat: {all: {samples: 3, value_mean: 2}}}, "
        "plans: {p: {default: true, entitlements: {chat: {limit: {credit: "
        "tok, value: 0, mode: soft}}}}}}";
    long n;
    for (n = 0;; n++) {
        failing f = {-1, 0};
        limitr_allocator a = {failing_realloc, &f};
        limitr_options o = {&a, 0, 0, 0, 0};
        limitr_engine *e = NULL;
        const char *text;
        char before[4096], fp[80];
        int status;
        double v = -1;
        ASSERT_EQ(limitr_new(first, strlen(first), NULL, &o, &e), LIMITR_OK);
        limitr_set_time(e, 1774872000000LL);
        limitr_create_customer(e, "c", NULL, NULL, NULL);
        limitr_allow(e, "c", "chat", 500, NULL);
        ASSERT_EQ(limitr_export(e, NULL, &text, NULL), LIMITR_OK);
        snprintf(before, sizeof before, "%s", text);
        snprintf(fp, sizeof fp, "%s", limitr_fingerprint(e));
        f.countdown = n;
        status = limitr_reload(e, next, strlen(next), NULL, NULL);
        f.countdown = -1;
        if (status == LIMITR_OK) {
            ASSERT_EQ(limitr_value(e, "c", "chat", NULL, &v), LIMITR_OK);
            ASSERT_NUM(v, 0.5); /* 500 MB */
        } else {
            ASSERT_EQ(status, LIMITR_NOMEM);
            ASSERT_STR(limitr_fingerprint(e), fp);
            ASSERT_EQ(limitr_export(e, NULL, &text, NULL), LIMITR_OK);
            ASSERT_STR(text, before);
        }
        limitr_free(e);
        ASSERT_EQ(f.live, 0);
        if (status == LIMITR_OK) break;
        ASSERT(n < 500);
    }
}

typedef struct snapshots {
    limitr_engine *e;
    int had, gone; /* events whose customer snapshot could be read, not */
} snapshots;

static const char *count_snapshots(const char *name, const limitr_item *items,
                                   size_t n, void *ud)
{
    snapshots *s = ud;
    const char *json;
    size_t i;
    (void)name;
    for (i = 0; i < n; i++) {
        if (items[i].kind != LIMITR_ITEM_SNAPSHOT) continue;
        if (limitr_event_snapshot(s->e, items[i].snapshot, &json) == LIMITR_OK)
            s->had++;
        else if (strcmp(limitr_last_reason(s->e), "snapshot_expired") == 0)
            s->gone++;
    }
    return NULL;
}

/* A customer ID too long for a frame's own buffer is copied into an
 * allocation; when that fails, the event still fires, its snapshot is
 * simply gone, and nothing breaks. */
TEST(event_frame_of_a_long_id)
{
    failing f = {-1, 0};
    limitr_allocator a = {failing_realloc, &f};
    limitr_options o = {&a, 0, 0, 0, 0};
    const char *id = "a-customer-id-longer-than-the-48-bytes-of-a-frame-buffer";
    snapshots s = {NULL, 0, 0};
    ASSERT_EQ(limitr_new(policy, strlen(policy), NULL, &o, &s.e), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(s.e, id, NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on_items(s.e, "meter-changed", count_snapshots, &s, NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_allow(s.e, id, "seats", 1, NULL), LIMITR_OK); /* meter */
    f.countdown = 0; /* the frame's copy of the ID fails */
    ASSERT_EQ(limitr_allow(s.e, id, "seats", 1, NULL), LIMITR_OK);
    f.countdown = -1;
    ASSERT_EQ(limitr_allow(s.e, id, "seats", 1, NULL), LIMITR_OK);
    ASSERT_EQ(s.had, 2);
    ASSERT_EQ(s.gone, 1);
    limitr_free(s.e);
    ASSERT_EQ(f.live, 0);
}

int main(void)
{
    RUN(engine_creation);
    RUN(customer_creation_and_decisions);
    RUN(grants_and_caps);
    RUN(import_all_or_nothing);
    RUN(reload_all_or_nothing);
    RUN(event_frame_of_a_long_id);
    return HARNESS_EXIT();
}
