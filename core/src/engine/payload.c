/* payload.c: event payloads (docs/engine.md 10.1). A meter event's payload
 * is a list of items built on the stack, without allocating; its customer
 * is a frame whose snapshot is built only when a listener reads it. The
 * cJSON tree and the JSON text that snippets, App functions and C
 * subscribers receive are made from the items once, on first need. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine.h"

/* ---- Building items ---- */

/* The live frame of token, or NULL. */
static event_frame *frame_of(limitr_engine *e, uint64_t token)
{
    size_t i;
    for (i = 0; token != 0 && i < e->n_frames; i++)
        if (e->frames[i].token == token) return &e->frames[i];
    return NULL;
}

static limitr_item *add(payload *p, const char *key, limitr_item_kind kind)
{
    limitr_item *it;
    /* The shapes are fixed (decide.c): PAYLOAD_ITEMS holds the largest. */
    if (p->n == PAYLOAD_ITEMS) return NULL;
    it = &p->items[p->n++];
    it->key = key;
    it->kind = kind;
    it->number = 0;
    it->text = NULL;
    it->size = 0;
    it->snapshot = 0;
    if (p->depth > 0) p->items[p->open[p->depth - 1]].size++;
    return it;
}

void limitr__payload_start(payload *p)
{
    p->n = 0;
    p->depth = 0;
    p->json = NULL;
    p->text = NULL;
    limitr__payload_open(p, NULL);
}

void limitr__payload_open(payload *p, const char *key)
{
    if (p->depth == PAYLOAD_DEPTH || add(p, key, LIMITR_ITEM_TABLE) == NULL)
        return;
    p->open[p->depth++] = p->n - 1;
}

void limitr__payload_close(payload *p)
{
    if (p->depth > 0) p->depth--;
}

void limitr__payload_number(payload *p, const char *key, double v)
{
    limitr_item *it = add(p, key, LIMITR_ITEM_NUMBER);
    if (it != NULL) it->number = v;
}

void limitr__payload_lnum(payload *p, const char *key, lnum v)
{
    limitr__payload_number(p, key, limitr__lnum_to_double(v));
}

void limitr__payload_string(payload *p, const char *key, const char *s)
{
    limitr_item *it = s != NULL ? add(p, key, LIMITR_ITEM_STRING) : NULL;
    if (it != NULL) it->text = s; /* NULL: absent, as in JSON */
}

void limitr__payload_json(payload *p, const char *key, const char *text)
{
    limitr_item *it = add(p, key, LIMITR_ITEM_JSON);
    if (it != NULL) it->text = text;
}

void limitr__payload_snapshot(limitr_engine *e, payload *p, const char *key,
                              uint64_t token)
{
    limitr_item *it = add(p, key, LIMITR_ITEM_SNAPSHOT);
    const event_frame *f = frame_of(e, token);
    if (it == NULL) return;
    it->snapshot = token;
    it->text = f != NULL ? f->id : NULL;
}

/* ---- Other forms ---- */

const cJSON *limitr__payload_cjson(limitr_engine *e, payload *p)
{
    size_t i = 0;
    if (p->json == NULL && p->n > 0)
        p->json = limitr__items_cjson(e, p->items, &i);
    return p->json;
}

const char *limitr__payload_text(limitr_engine *e, payload *p)
{
    const cJSON *json;
    if (p->text == NULL && (json = limitr__payload_cjson(e, p)) != NULL)
        p->text = cJSON_PrintUnformatted(json);
    return p->text;
}

void limitr__payload_free(payload *p)
{
    cJSON_Delete(p->json);
    free(p->text);
    p->json = NULL;
    p->text = NULL;
}

/* ---- Frames ---- */

uint64_t limitr__frame_push(limitr_engine *e, const customer *owner,
                            int64_t now)
{
    event_frame *f;
    size_t len = strlen(owner->id) + 1;
    if (e->n_frames == LIMITR_MAX_FRAMES) return 0;
    f = &e->frames[e->n_frames];
    /* The ID outlives a nested change that deletes the customer. */
    f->id = len <= sizeof f->id_buf
                ? f->id_buf
                : e->alloc.realloc(e->alloc.ud, NULL, 0, len);
    if (f->id == NULL) return 0;
    f->id_len = len;
    memcpy(f->id, owner->id, len);
    e->n_frames++;
    f->owner = owner;
    f->now = now;
    f->token = ++e->next_token;
    f->snapshot = NULL;
    return f->token;
}

void limitr__frame_pop(limitr_engine *e)
{
    event_frame *f = &e->frames[--e->n_frames];
    cJSON_Delete(f->snapshot);
    if (f->id != f->id_buf) e->alloc.realloc(e->alloc.ud, f->id, f->id_len, 0);
}

static void build(limitr_engine *e, event_frame *f)
{
    if (f->owner == NULL) return;
    f->snapshot = limitr__customer_snapshot_at(e, f->owner, f->now);
    f->owner = NULL; /* may be gone after the next change */
}

const cJSON *limitr__frame_snapshot(limitr_engine *e, uint64_t token)
{
    event_frame *f = frame_of(e, token);
    if (f == NULL) return NULL;
    build(e, f);
    return f->snapshot;
}

/* The state is about to change (LIMITR_REFUSE_REENTRY): every payload
 * being delivered keeps its customer as it was. */
void limitr__frames_freeze(limitr_engine *e)
{
    size_t i;
    for (i = 0; i < e->n_frames; i++)
        build(e, &e->frames[i]);
}

static int expired(limitr_engine *e)
{
    return limitr__fail(e, LIMITR_NOT_FOUND, "snapshot_expired",
                        "event_snapshot: the event's customer snapshot can "
                        "be read only while the event is delivered (read it "
                        "in the subscriber to keep it)");
}

int limitr_event_customer_view(limitr_engine *e, uint64_t token,
                               limitr_customer_info *out)
{
    const event_frame *f;
    LIMITR_ENTER(e);
    if (out == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "event_customer_view: out is required");
    if ((f = frame_of(e, token)) == NULL) return expired(e);
    /* Unchanged since the event, and read in its millisecond: the
       customer as it is now is the snapshot. */
    if (f->owner == NULL || limitr__now(e) != f->now)
        return limitr__reason(e, LIMITR_NOT_FOUND, "snapshot_moved");
    return limitr_customer_view(e, f->owner->id, out);
}

int limitr_event_snapshot(limitr_engine *e, uint64_t token, const char **json)
{
    const cJSON *snap;
    char *text;
    LIMITR_ENTER(e);
    if (json == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "event_snapshot: json is required");
    if (frame_of(e, token) == NULL) return expired(e);
    if ((snap = limitr__frame_snapshot(e, token)) == NULL ||
        (text = cJSON_PrintUnformatted(snap)) == NULL)
        return limitr__nomem(e);
    free(e->result);
    e->result = text;
    *json = text;
    return limitr__ok(e);
}
