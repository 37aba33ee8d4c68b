/* test_payload.c: events without JSON (limitr_on_items): the items say what
 * the JSON payload says, and the customer snapshot is the customer as it
 * was when the event fired, readable while the event is delivered only. */
#include "engine_of.h"
#include "harness.h"

static const char policy_yaml[] = "policy:\n"
                                  "  credits: {t: {}}\n"
                                  "  plans:\n"
                                  "    p:\n"
                                  "      default: true\n"
                                  "      entitlements:\n"
                                  "        chat: {limit: {credit: t, value: "
                                  "10}}\n";

typedef struct seen {
    limitr_engine *e;
    int calls;
    char json[2048];     /* the JSON subscriber's payload */
    char snapshot[2048]; /* limitr_event_snapshot during the call */
    char id[64];         /* the SNAPSHOT item's text */
    double meter_value;  /* meter.value */
    size_t n;            /* items */
    uint64_t token;      /* the SNAPSHOT item's */
    int nested;          /* allow (1) or delete (2) from the subscriber */
} seen;

static const char *on_json(const char *name, const char *payload, void *ud)
{
    seen *s = ud;
    (void)name;
    snprintf(s->json, sizeof s->json, "%s", payload);
    return NULL;
}

/* Finds the items' entries: the customer and meter.value. */
static const char *on_items(const char *name, const limitr_item *items,
                            size_t n, void *ud)
{
    seen *s = ud;
    const char *snap = NULL;
    uint64_t token = 0;
    size_t i;
    (void)name;
    s->calls++;
    s->n = n;
    if (items[0].kind != LIMITR_ITEM_TABLE || items[0].key != NULL)
        return "the payload is not a table";
    for (i = 1; i < n; i++) {
        if (items[i].kind == LIMITR_ITEM_SNAPSHOT) {
            s->token = token = items[i].snapshot;
            snprintf(s->id, sizeof s->id, "%s", items[i].text);
        }
        if (items[i].kind == LIMITR_ITEM_TABLE &&
            strcmp(items[i].key, "meter") == 0) {
            size_t k;
            for (k = 1; k <= items[i].size; k++)
                if (strcmp(items[i + k].key, "value") == 0)
                    s->meter_value = items[i + k].number;
        }
    }
    if (s->nested == 1 && s->calls == 1) limitr_allow(s->e, "c", "chat", 5, 0);
    if (s->nested == 2) limitr_delete_customer(s->e, "c");
    if (limitr_event_snapshot(s->e, token, &snap) == LIMITR_OK)
        snprintf(s->snapshot, sizeof s->snapshot, "%s", snap);
    return NULL;
}

TEST(items_say_what_json_says)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    seen s;
    const char *snap;
    memset(&s, 0, sizeof s);
    s.e = e;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "meter-changed", on_json, &s, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on_items(e, "meter-changed", on_items, &s, NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "chat", 3, NULL), LIMITR_OK);
    ASSERT_EQ(s.calls, 1);
    ASSERT_STR(s.id, "c");
    ASSERT_NUM(s.meter_value, 3);
    ASSERT_CONTAINS(s.json, "\"customer\":{\"id\":\"c\"");
    ASSERT_CONTAINS(s.json, "\"meter\":{\"limit\":10,\"old\":0,\"value\":3,"
                            "\"diff\":3,\"overhead\":0,\"overhead_diff\":0}");
    ASSERT_CONTAINS(s.json, "\"remaining\":7");
    ASSERT_CONTAINS(s.snapshot, "\"id\":\"c\"");
    ASSERT_CONTAINS(s.snapshot, "\"chat\":{\"credit\":\"t\",\"value\":3");
    /* After delivery the snapshot is gone, with a clear error. */
    ASSERT_EQ(limitr_event_snapshot(e, s.token, &snap), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "snapshot_expired");
    ASSERT_CONTAINS(limitr_last_error(e), "only while the event is delivered");
    ASSERT_EQ(limitr_event_snapshot(e, 0, &snap), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_event_snapshot(e, s.token, NULL), LIMITR_INVALID);
    limitr_free(e);
}

TEST(snapshot_is_the_customer_when_the_event_fired)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    seen s;
    memset(&s, 0, sizeof s);
    s.e = e;
    s.nested = 1; /* the first call allows 5 more before reading */
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on_items(e, "meter-changed", on_items, &s, NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "chat", 3, NULL), LIMITR_OK);
    ASSERT_EQ(s.calls, 2);
    /* the outer event's snapshot, read after the nested allow: 3, not 8 */
    ASSERT_CONTAINS(s.snapshot, "\"chat\":{\"credit\":\"t\",\"value\":3,");
    limitr_free(e);
}

TEST(snapshot_outlives_a_nested_delete)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    seen s;
    memset(&s, 0, sizeof s);
    s.e = e;
    s.nested = 2; /* the subscriber deletes the customer, then reads */
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on_items(e, "meter-changed", on_items, &s, NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "chat", 3, NULL), LIMITR_OK);
    ASSERT_CONTAINS(s.snapshot, "\"id\":\"c\"");
    ASSERT_CONTAINS(s.snapshot, "\"value\":3");
    ASSERT_EQ(limitr_customer(e, "c", &(const char *){NULL}), LIMITR_NOT_FOUND);
    limitr_free(e);
}

static const char *on_whole(const char *name, const limitr_item *items,
                            size_t n, void *ud)
{
    seen *s = ud;
    (void)name;
    s->n = n;
    if (n == 1 && items[0].kind == LIMITR_ITEM_JSON && items[0].key == NULL)
        snprintf(s->json, sizeof s->json, "%s", items[0].text);
    return NULL;
}

TEST(other_events_come_whole_as_json)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    seen s;
    int id;
    memset(&s, 0, sizeof s);
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_on_items(e, "customer-set", on_whole, &s, &id), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e,
                                     "long-customer-id-that-does-not-fit-"
                                     "the-frame-buffer-of-48-bytes",
                                     NULL, NULL, NULL),
              LIMITR_OK);
    ASSERT_EQ(s.n, 1);
    ASSERT_CONTAINS(s.json, "\"id\":\"long-customer-id-that-does-not-fit");
    ASSERT_EQ(limitr_off(e, id), LIMITR_OK);
    ASSERT_EQ(limitr_off(e, id), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_on_items(e, "meter-chnged", on_whole, &s, NULL),
              LIMITR_INVALID);
    ASSERT_EQ(limitr_on_items(e, "meter-changed", NULL, &s, NULL),
              LIMITR_INVALID);
    limitr_free(e);
}

TEST(long_ids_in_frames)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    const char *id = "a-customer-id-longer-than-the-frame-buffer-of-48-bytes";
    seen s;
    memset(&s, 0, sizeof s);
    s.e = e;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, id, NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on_items(e, "meter-changed", on_items, &s, NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, id, "chat", 1, NULL), LIMITR_OK);
    ASSERT_STR(s.id, id);
    limitr_free(e);
}

typedef struct view_seen {
    limitr_engine *e;
    int live, moved;        /* limitr_event_customer_view's answers */
    char value_before[512]; /* the snapshot after the nested change */
} view_seen;

/* Reads the customer without JSON, then changes it and asks again. */
static const char *on_view(const char *name, const limitr_item *items, size_t n,
                           void *ud)
{
    view_seen *v = ud;
    limitr_customer_info info;
    uint64_t token = 0;
    const char *json;
    size_t i;
    (void)name;
    for (i = 0; i < n; i++)
        if (items[i].kind == LIMITR_ITEM_SNAPSHOT) token = items[i].snapshot;
    if (v->live != 0) return NULL; /* the nested event */
    v->live = limitr_event_customer_view(v->e, token, &info) == LIMITR_OK &&
              strcmp(info.id, "c") == 0 && info.n_meters == 1;
    limitr_advance(v->e, 1); /* the clock moves: the snapshot is kept */
    v->moved =
        limitr_event_customer_view(v->e, token, &info) == LIMITR_NOT_FOUND &&
        strcmp(limitr_last_reason(v->e), "snapshot_moved") == 0;
    if (limitr_event_snapshot(v->e, token, &json) == LIMITR_OK)
        snprintf(v->value_before, sizeof v->value_before, "%s", json);
    return NULL;
}

TEST(customer_view_while_nothing_moved)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    view_seen v;
    limitr_customer_info info;
    memset(&v, 0, sizeof v);
    v.e = e;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_set_time(e, 1000), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "c", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on_items(e, "meter-changed", on_view, &v, NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "c", "chat", 2, NULL), LIMITR_OK);
    ASSERT_EQ(v.live, 1);
    ASSERT_EQ(v.moved, 1);
    ASSERT_CONTAINS(v.value_before, "\"started\":1000}");
    ASSERT_EQ(limitr_event_customer_view(e, 1, &info), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "snapshot_expired");
    ASSERT_EQ(limitr_event_customer_view(e, 1, NULL), LIMITR_INVALID);
    limitr_free(e);
}

int main(void)
{
    RUN(items_say_what_json_says);
    RUN(snapshot_is_the_customer_when_the_event_fired);
    RUN(snapshot_outlives_a_nested_delete);
    RUN(other_events_come_whole_as_json);
    RUN(long_ids_in_frames);
    RUN(customer_view_while_nothing_moved);
    return harness_failures != 0;
}
