/* event.c: event names, subscriptions (limitr_on/off), host library
 * functions (limitr_lib) and delivery. Payloads are built by the caller only
 * when limitr__listening says someone listens. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine.h"
#include "validate.h"

/* ---- Subscriptions ---- */

/* "on: unknown event" with the nearest event or notification name (a
 * notification's re-emitted events are subscribed to by its name). */
static int unknown_event(limitr_engine *e, const char *name)
{
    const lp_policy *p = e->policy;
    const char **names = malloc((EV_COUNT + p->n_notifications) *
                                sizeof *names);
    const char *hint = NULL;
    size_t i;
    int status;
    if (names != NULL) {
        for (i = 0; i < EV_COUNT; i++)
            names[i] = limitr__event_names[i];
        for (i = 0; i < p->n_notifications; i++)
            names[EV_COUNT + i] = p->notifications[i].name;
        hint = limitr__did_you_mean(name, names,
                                    EV_COUNT + p->n_notifications);
    }
    status = limitr__fail(e, LIMITR_INVALID, NULL,
                          "on: unknown event '%s'%s%s%s", name,
                          hint ? " (did you mean '" : "", hint ? hint : "",
                          hint ? "'?)" : "");
    free(names);
    return status;
}

/* limitr_on and limitr_on_items: one of fn and items_fn is set. */
static int subscribe(limitr_engine *e, const char *name, limitr_event_fn fn,
                     limitr_items_fn items_fn, void *userdata, int *sub_id)
{
    int ev;
    subscription *s;
    if (name == NULL || (fn == NULL && items_fn == NULL))
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "on: name and fn are required");
    if (strcmp(name, "*") == 0) {
        ev = -1;
    } else if ((ev = limitr__event_find(name)) < 0 &&
               (ev = limitr__notification_find(e->policy, name)) >= 0) {
        ev += EV_COUNT; /* a notification's re-emitted events */
    } else if (ev < 0) {
        return unknown_event(e, name);
    }
    if (e->n_subs == e->cap_subs) {
        size_t cap = e->cap_subs ? e->cap_subs * 2 : 8;
        subscription *grown = realloc(e->subs, cap * sizeof *grown);
        if (grown == NULL)
            return limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
        e->subs = grown;
        e->cap_subs = cap;
    }
    s = &e->subs[e->n_subs];
    s->notification = NULL;
    if (ev >= EV_COUNT && (s->notification = strdup(name)) == NULL)
        return limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
    e->n_subs++;
    s->id = e->next_sub_id++;
    s->event = ev;
    s->fn = fn;
    s->items_fn = items_fn;
    s->userdata = userdata;
    if (ev < 0)
        e->star_listeners++;
    else if (ev < EV_COUNT) /* notifications count through their events */
        e->listeners[ev]++;
    if (sub_id != NULL) *sub_id = s->id;
    return limitr__ok(e);
}

int limitr_on(limitr_engine *e, const char *name, limitr_event_fn fn,
              void *userdata, int *sub_id)
{
    LIMITR_ENTER(e);
    return subscribe(e, name, fn, NULL, userdata, sub_id);
}

int limitr_on_items(limitr_engine *e, const char *name, limitr_items_fn fn,
                    void *userdata, int *sub_id)
{
    LIMITR_ENTER(e);
    return subscribe(e, name, NULL, fn, userdata, sub_id);
}

static int removed(const subscription *s)
{
    return s->fn == NULL && s->items_fn == NULL;
}

/* Drops removed subscriptions; only between deliveries, so a delivery loop
 * walking the array by index never skips one. */
static void compact_subs(limitr_engine *e)
{
    size_t i, n = 0;
    for (i = 0; i < e->n_subs; i++)
        if (!removed(&e->subs[i]))
            e->subs[n++] = e->subs[i];
        else
            free(e->subs[i].notification);
    e->n_subs = n;
    e->subs_dirty = 0;
}

void limitr__subs_follow(limitr_engine *e, const lp_policy *p)
{
    size_t i;
    for (i = 0; i < e->n_subs; i++) {
        subscription *s = &e->subs[i];
        int found;
        if (s->notification == NULL) continue;
        found = limitr__notification_find(p, s->notification);
        s->event = found >= 0 ? EV_COUNT + found : SUB_DORMANT;
    }
}

int limitr_off(limitr_engine *e, int sub_id)
{
    size_t i;
    LIMITR_ENTER(e);
    for (i = 0; i < e->n_subs; i++) {
        subscription *s = &e->subs[i];
        if (s->id != sub_id || removed(s)) continue;
        s->fn = NULL;
        s->items_fn = NULL;
        if (s->event < 0)
            e->star_listeners--;
        else if (s->event < EV_COUNT)
            e->listeners[s->event]--;
        e->subs_dirty = 1;
        if (e->delivering == 0) compact_subs(e);
        return limitr__ok(e);
    }
    return limitr__reason(e, LIMITR_NOT_FOUND, "no_subscription");
}

/* ---- Host library functions ---- */

static const host_fn *find_lib(const limitr_engine *e, const char *lib,
                               const char *name);

static int is_identifier(const char *s)
{
    size_t i;
    if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (i = 0; s[i] != '\0'; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_'))
            return 0;
    }
    return i <= 64;
}

/* The event an App function listens to (meter_limit -> meter-limit), -1 for
 * none, EV_COUNT for event_handler (every event). */
static int app_fn_event(const char *lib, const char *name)
{
    char dashed[80];
    size_t i;
    if (strcmp(lib, "App") != 0) return -1;
    if (strcmp(name, "event_handler") == 0) return EV_COUNT;
    if (strcmp(name, "customer_removing") == 0) return EV_CUSTOMER_REMOVED;
    for (i = 0; name[i] != '\0' && i + 1 < sizeof dashed; i++)
        dashed[i] = name[i] == '_' ? '-' : name[i];
    dashed[i] = '\0';
    return limitr__event_find(dashed);
}

static void count_app_fn(limitr_engine *e, int ev, int delta)
{
    if (ev == EV_COUNT)
        e->star_listeners += delta;
    else if (ev >= 0)
        e->listeners[ev] += delta;
}

/* ---- The host interface of the policy's VM (script.h) ---- */

static int64_t host_now(void *ud)
{
    return limitr__now(ud);
}

/* A host function for a snippet: items straight through, or through JSON
 * for a JSON host (its result then kept as items until the next call). */
static int host_call(void *ud, const char *lib, const char *name,
                     const limitr_item *args, size_t n_args,
                     const limitr_item **result, size_t *n_result,
                     char **failure)
{
    limitr_engine *e = ud;
    const host_fn *h = find_lib(e, lib, name);
    const char *out = NULL, *fail;
    char *text;
    size_t i = 0;
    cJSON *json;
    *result = NULL;
    *n_result = 0;
    *failure = NULL;
    if (h == NULL) {
        *failure = strdup("no such host function");
        return -1;
    }
    if (h->items_fn != NULL) {
        fail = h->items_fn(args, n_args, result, n_result, h->userdata);
        if (fail == NULL && *result != NULL &&
            (fail = limitr__items_check(*result, *n_result)) != NULL) {
            *failure = malloc(strlen(fail) + 16);
            if (*failure != NULL) sprintf(*failure, "result: %s", fail);
            *result = NULL;
            *n_result = 0;
            return -1;
        }
    } else {
        json = limitr__items_cjson(e, args, &i);
        text = json != NULL ? cJSON_PrintUnformatted(json) : NULL;
        cJSON_Delete(json);
        if (text == NULL) return -1;
        fail = h->fn(text, &out, h->userdata);
        free(text);
        if (fail == NULL && out != NULL) {
            cJSON_Delete(e->lib_result);
            e->lib_result = cJSON_Parse(out);
            if (e->lib_result == NULL) {
                *failure = strdup("the host function's result is not JSON");
                return -1;
            }
            if (limitr__items_of_json(e->lib_result, &e->lib_items) != 0)
                return -1;
            *result = e->lib_items.items;
            *n_result = e->lib_items.n;
        }
    }
    if (fail != NULL) {
        *failure = strdup(fail);
        *result = NULL;
        *n_result = 0;
        return -1;
    }
    return 0;
}

static int host_meter(void *ud, const char *id, const char *ent,
                      script_meter *out, const char **why)
{
    limitr_engine *e = ud;
    if (limitr__meter_read(e, id, ent, &out->value, &out->has_limit,
                           &out->limit, &out->remaining) != LIMITR_OK) {
        /* a cycle below fails every snippet on its way up */
        if (strcmp(limitr_last_reason(e), "self_reference") != 0 &&
            e->value_cycle == 0)
            return -1;
        *why = "a limit value snippet reads its own limit (limitr.meter or "
               "limitr.value of its own entitlement), or value snippets "
               "read each other more than 8 deep";
        return -2;
    }
    return 0;
}

void limitr__bind_script(limitr_engine *e)
{
    script_host host;
    host.ud = e;
    host.now = host_now;
    host.call = host_call;
    host.meter = host_meter;
    limitr__script_bind(e->policy->vm, &host);
}

/* limitr_lib and limitr_lib_items: fn or items_fn, or neither to remove. */
static int register_lib(limitr_engine *e, const char *lib, const char *name,
                        limitr_lib_fn fn, limitr_lib_items_fn items_fn,
                        void *userdata)
{
    size_t i;
    host_fn *grown;
    if (!is_identifier(lib) || !is_identifier(name))
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "lib: library and function names must be "
                            "identifiers of 1 to 64 characters (letters, "
                            "digits, _), got '%s.%s'",
                            lib ? lib : "(null)", name ? name : "(null)");
    /* refused whether or not this policy has a snippet VM to find it in */
    if (limitr__script_reserved_name(lib))
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "lib: '%s' is a name of the snippet sandbox", lib);
    if (fn == NULL && items_fn == NULL) { /* removes lib.name */
        for (i = 0; i < e->n_libs; i++)
            if (strcmp(e->libs[i].lib, lib) == 0 &&
                strcmp(e->libs[i].name, name) == 0)
                break;
        if (i == e->n_libs)
            return limitr__fail(e, LIMITR_NOT_FOUND, "unknown_lib",
                                "lib: no host function %s.%s to remove", lib,
                                name);
        free(e->libs[i].lib);
        free(e->libs[i].name);
        memmove(&e->libs[i], &e->libs[i + 1],
                (e->n_libs - i - 1) * sizeof *e->libs);
        e->n_libs--;
        count_app_fn(e, app_fn_event(lib, name), -1);
        return limitr__ok(e);
    }
    for (i = 0; i < e->n_libs; i++) {
        if (strcmp(e->libs[i].lib, lib) == 0 &&
            strcmp(e->libs[i].name, name) == 0) {
            e->libs[i].fn = fn;
            e->libs[i].items_fn = items_fn;
            e->libs[i].userdata = userdata;
            return limitr__ok(e);
        }
    }
    grown = realloc(e->libs, (e->n_libs + 1) * sizeof *grown);
    if (grown == NULL)
        return limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
    e->libs = grown;
    grown = &e->libs[e->n_libs];
    grown->lib = strdup(lib);
    grown->name = strdup(name);
    if (grown->lib == NULL || grown->name == NULL) {
        free(grown->lib);
        free(grown->name);
        return limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
    }
    /* Snippets call it as lib.name (the policy's VM, when it has one): the
       sandbox may refuse the name, and then nothing is registered. */
    if (e->policy->vm != NULL) {
        char *err = NULL;
        if (limitr__script_add_lib(e->policy->vm, lib, name, &err) !=
            LIMITR_OK) {
            int status = limitr__fail(e, LIMITR_INVALID, NULL, "lib: %s",
                                      err ? err : "out of memory");
            free(err);
            free(grown->lib);
            free(grown->name);
            return status;
        }
    }
    grown->fn = fn;
    grown->items_fn = items_fn;
    grown->userdata = userdata;
    e->n_libs++;
    count_app_fn(e, app_fn_event(lib, name), 1);
    return limitr__ok(e);
}

int limitr_lib(limitr_engine *e, const char *lib, const char *name,
               limitr_lib_fn fn, void *userdata)
{
    LIMITR_ENTER(e);
    return register_lib(e, lib, name, fn, NULL, userdata);
}

int limitr_lib_items(limitr_engine *e, const char *lib, const char *name,
                     limitr_lib_items_fn fn, void *userdata)
{
    LIMITR_ENTER(e);
    return register_lib(e, lib, name, NULL, fn, userdata);
}

static const host_fn *find_lib(const limitr_engine *e, const char *lib,
                               const char *name)
{
    size_t i;
    for (i = 0; i < e->n_libs; i++)
        if (strcmp(e->libs[i].lib, lib) == 0 &&
            strcmp(e->libs[i].name, name) == 0)
            return &e->libs[i];
    return NULL;
}

void limitr__events_free(limitr_engine *e)
{
    size_t i;
    for (i = 0; i < e->n_libs; i++) {
        free(e->libs[i].lib);
        free(e->libs[i].name);
    }
    free(e->libs);
    for (i = 0; i < e->n_subs; i++)
        free(e->subs[i].notification);
    free(e->subs);
    cJSON_Delete(e->lib_result);
    free(e->lib_items.items);
    e->lib_result = NULL;
    e->lib_items.items = NULL;
    e->lib_items.n = e->lib_items.cap = 0;
    e->libs = NULL;
    e->subs = NULL;
    e->n_libs = e->n_subs = e->cap_subs = 0;
    limitr__drop_held(e);
    free(e->held);
    e->held = NULL;
    e->cap_held = 0;
}

/* ---- Delivery ---- */

/* Kinds: built-in events are 0..EV_COUNT-1; notification i of the policy
 * is EV_COUNT + i (its re-emitted events). */
static const char *kind_name(const limitr_engine *e, int kind)
{
    if (kind < EV_COUNT) return limitr__event_names[kind];
    return e->policy->notifications[kind - EV_COUNT].name;
}

int limitr__too_deep(limitr_engine *e, const char *what)
{
    char message[200];
    snprintf(message, sizeof message,
             "%s: events nest more than %d deep (an event subscriber or "
             "handler calls the engine that fires them again)",
             what, LIMITR_MAX_EVENT_DEPTH);
    limitr__report_error(e, what, message);
    return limitr__fail(e, LIMITR_ERROR, "event_depth", "%s", message);
}

void limitr__report_error(limitr_engine *e, const char *path,
                          const char *message)
{
    cJSON *json;
    /* A failure while delivering `error` is dropped (docs/engine.md 10.3). */
    if (e->reporting_error || !limitr__listening(e, EV_ERROR)) return;
    json = cJSON_CreateObject();
    if (json == NULL) return;
    cJSON_AddStringToObject(json, "message", message);
    cJSON_AddStringToObject(json, "path", path);
    e->reporting_error++;
    limitr__emit(e, EV_ERROR, json);
    e->reporting_error--;
}

/* Calls App.<fn_name> with the payload: args_json ("[payload]" or
 * "[name, payload]") for a JSON host, else the items of the same list. */
static void call_app(limitr_engine *e, const char *fn_name, const char *name,
                     payload *p)
{
    const host_fn *h = find_lib(e, "App", fn_name);
    limitr_lib_fn fn;
    limitr_lib_items_fn items_fn;
    void *ud;
    const char *result = NULL, *failure = NULL, *text;
    char path[96];
    if (h == NULL) return;
    fn = h->fn; /* the call may register more functions and move the array */
    items_fn = h->items_fn;
    ud = h->userdata;
    if (items_fn != NULL) {
        limitr_item args[PAYLOAD_ITEMS + 2];
        const limitr_item *res;
        size_t n = 0, n_res;
        memset(args, 0, 2 * sizeof args[0]);
        args[n].kind = LIMITR_ITEM_ARRAY;
        args[n++].size = name != NULL ? 2 : 1;
        if (name != NULL) {
            args[n].kind = LIMITR_ITEM_STRING;
            args[n++].text = name;
        }
        if (p->n > 0) {
            memcpy(&args[n], p->items, p->n * sizeof *args);
            n += p->n;
        } else if ((text = limitr__payload_text(e, p)) != NULL) {
            memset(&args[n], 0, sizeof args[n]);
            args[n].kind = LIMITR_ITEM_JSON;
            args[n++].text = text;
        } else {
            return; /* out of memory: the event is lost */
        }
        failure = items_fn(args, n, &res, &n_res, ud);
    } else if ((text = limitr__payload_text(e, p)) != NULL) {
        size_t tlen = strlen(text) + (name ? strlen(name) : 0) + 8;
        char *args = malloc(tlen);
        if (args == NULL) return;
        if (name != NULL)
            snprintf(args, tlen, "[\"%s\",%s]", name, text);
        else
            snprintf(args, tlen, "[%s]", text);
        failure = fn(args, &result, ud);
        free(args);
    }
    if (failure != NULL) {
        snprintf(path, sizeof path, "lib:App.%s", fn_name);
        limitr__report_error(e, path, failure);
    }
}

/* Calls App.<name, - as _> and App.event_handler with the payload. */
static void deliver_app(limitr_engine *e, int kind, payload *p)
{
    const char *name = kind_name(e, kind);
    char fn_name[80];
    size_t i;
    for (i = 0; name[i] != '\0' && i + 1 < sizeof fn_name; i++)
        fn_name[i] = name[i] == '-' ? '_' : name[i];
    fn_name[i] = '\0';
    call_app(e, fn_name, NULL, p);
    if (kind == EV_CUSTOMER_REMOVED) call_app(e, "customer_removing", NULL, p);
    call_app(e, "event_handler", name, p);
}

/* Calls one subscriber with the payload in the form it takes. */
static const char *call_sub(limitr_engine *e, const subscription *s,
                            const char *name, payload *p)
{
    const char *text;
    if (s->items_fn != NULL && p->n > 0)
        return s->items_fn(name, p->items, p->n, s->userdata);
    if ((text = limitr__payload_text(e, p)) == NULL)
        return NULL;           /* out of memory: the event is lost */
    if (s->items_fn != NULL) { /* an event given whole, as JSON */
        limitr_item whole;
        memset(&whole, 0, sizeof whole);
        whole.kind = LIMITR_ITEM_JSON;
        whole.text = text;
        return s->items_fn(name, &whole, 1, s->userdata);
    }
    return s->fn(name, text, s->userdata);
}

static void deliver_subs(limitr_engine *e, int kind, payload *p, int star)
{
    size_t i;
    char path[96];
    const char *name = kind_name(e, kind);
    for (i = 0; i < e->n_subs; i++) {
        /* Copy out: a callback may subscribe and move the array. */
        subscription s = e->subs[i];
        const char *failure;
        if (removed(&s) || (star ? s.event != -1 : s.event != kind)) continue;
        failure = call_sub(e, &s, name, p);
        if (failure != NULL) {
            snprintf(path, sizeof path, "on:%s", star ? "*" : name);
            limitr__report_error(e, path, failure);
        }
    }
}

/* Calls snippet ref of the policy's VM with args; failures fire error. */
static int call_snippet(limitr_engine *e, int ref, const char *path,
                        const cJSON *const *args, int nargs, const cJSON *event,
                        script_result *res)
{
    const cJSON *who = cJSON_GetObjectItemCaseSensitive(event, "customer");
    char *err = NULL;
    int status;
    who = cJSON_GetObjectItemCaseSensitive(who, "id");
    limitr__script_set_customer(e->policy->vm,
                                cJSON_IsString(who) ? who->valuestring : NULL);
    status = limitr__script_call(e->policy->vm, ref, args, nargs, res, &err);
    if (status != LIMITR_OK)
        limitr__report_error(e, path, err ? err : "out of memory");
    free(err);
    return status;
}

/* A payload customer's snapshot, for a handler that reads it. */
static cJSON *frame_fetch(void *ud, const void *key)
{
    const cJSON *snap = limitr__frame_snapshot(ud, (uint64_t)(uintptr_t)key);
    return snap != NULL ? cJSON_Duplicate(snap, 1) : NULL;
}

/* Calls policy handler ref with the payload's items as its argument, built
 * straight in the VM (the customer only if the handler reads it). */
static void call_handler_items(limitr_engine *e, int ref, const char *path,
                               const payload *p)
{
    script_field fields[PAYLOAD_ITEMS];
    cJSON *parsed[PAYLOAD_ITEMS];
    const char *id = NULL;
    char *err = NULL;
    size_t i, n_parsed = 0;
    for (i = 1; i < p->n; i++) {
        const limitr_item *it = &p->items[i];
        script_field *f = &fields[i - 1];
        memset(f, 0, sizeof *f);
        f->name = it->key;
        switch (it->kind) {
        case LIMITR_ITEM_NUMBER:
            f->kind = SCRIPT_FIELD_NUMBER;
            f->number = it->number;
            break;
        case LIMITR_ITEM_STRING:
            f->kind = SCRIPT_FIELD_STRING;
            f->string = it->text;
            break;
        case LIMITR_ITEM_TABLE:
            f->kind = SCRIPT_FIELD_TABLE;
            f->size = (int)it->size;
            break;
        case LIMITR_ITEM_JSON:
            f->kind = SCRIPT_FIELD_JSON;
            f->json = parsed[n_parsed++] = cJSON_Parse(it->text);
            break;
        case LIMITR_ITEM_ARRAY: /* payloads hold none of these three */
        case LIMITR_ITEM_BOOLEAN:
        case LIMITR_ITEM_NULL:
            f->kind = SCRIPT_FIELD_JSON; /* nil */
            break;
        case LIMITR_ITEM_SNAPSHOT:
            f->kind = SCRIPT_FIELD_LAZY;
            f->lazy.fetch = frame_fetch;
            f->lazy.ud = e;
            f->lazy.key = (const void *)(uintptr_t)it->snapshot;
            f->lazy.id = id = it->text;
            break;
        }
    }
    limitr__script_set_customer(e->policy->vm, id);
    if (limitr__script_call_fields(e->policy->vm, ref, fields,
                                   (int)p->items[0].size, NULL,
                                   &err) != LIMITR_OK)
        limitr__report_error(e, path, err ? err : "out of memory");
    free(err);
    for (i = 0; i < n_parsed; i++)
        cJSON_Delete(parsed[i]);
}

/* Steps 2-4 of docs/engine.md 10.3: handler, App functions, subscribers. */
static void deliver(limitr_engine *e, int kind, payload *p)
{
    const lp_policy *pol = e->policy;
    int ref = kind < EV_COUNT ? pol->handler_refs[kind]
                              : pol->notifications[kind - EV_COUNT].handler_ref;
    const cJSON *json;
    e->delivering++;
    if (ref > 0) {
        char path[96];
        snprintf(path, sizeof path, "handlers.%s", kind_name(e, kind));
        if (p->n > 0)
            call_handler_items(e, ref, path, p);
        else if ((json = limitr__payload_cjson(e, p)) != NULL)
            call_snippet(e, ref, path, &json, 1, json, NULL);
    }
    if (e->n_libs > 0) deliver_app(e, kind, p);
    deliver_subs(e, kind, p, 0);
    deliver_subs(e, kind, p, 1);
    e->delivering--;
    if (e->delivering == 0 && e->subs_dirty) compact_subs(e);
}

/* Notifications see the meter events and the cap events of a call
 * (docs/policy.md section 9). */
static int notified_event(event_kind ev)
{
    return ev == EV_METER_CHANGED || ev == EV_METER_OVERAGE ||
           ev == EV_METER_LIMIT || ev == EV_METER_GOVERNED ||
           ev == EV_METER_RESET || ev == EV_CAP_LIMIT ||
           ev == EV_CAP_THRESHOLD_CROSSED;
}

/* Step 1: each notification whose matches(type, event) is true fires
 * fire(event, name), or re-emits the event under its name. */
static void notify(limitr_engine *e, event_kind ev, payload *p)
{
    const lp_policy *pol = e->policy;
    const cJSON *json = limitr__payload_cjson(e, p);
    size_t i;
    for (i = 0; json != NULL && i < pol->n_notifications; i++) {
        const lp_notification *n = &pol->notifications[i];
        cJSON *type = cJSON_CreateString(limitr__event_names[ev]);
        cJSON *name = cJSON_CreateString(n->name);
        const cJSON *args[2];
        script_result r;
        char path[96];
        int matched = 0;
        if (type == NULL || name == NULL) {
            cJSON_Delete(type);
            cJSON_Delete(name);
            return;
        }
        snprintf(path, sizeof path, "notifications.%s.matches", n->name);
        args[0] = type;
        args[1] = json;
        if (call_snippet(e, n->matches_ref, path, args, 2, json, &r) ==
            LIMITR_OK) {
            matched = r.type[0] == SCRIPT_BOOLEAN && r.boolean[0];
            limitr__script_result_free(&r);
        }
        if (matched && n->fire_ref > 0) {
            snprintf(path, sizeof path, "notifications.%s.fire", n->name);
            args[0] = json;
            args[1] = name;
            call_snippet(e, n->fire_ref, path, args, 2, json, NULL);
        } else if (matched) {
            deliver(e, EV_COUNT + (int)i, p);
        }
        cJSON_Delete(type);
        cJSON_Delete(name);
    }
}

static void emit_now(limitr_engine *e, event_kind ev, payload *p)
{
    if (e->policy->n_notifications > 0 && notified_event(ev)) {
        e->delivering++;
        notify(e, ev, p);
        e->delivering--;
    }
    deliver(e, ev, p);
    limitr__payload_free(p);
}

/* ---- Held events ---- */

/* An event held while its call holds the state: its payload as JSON (the
 * state as it is now), and the event depth it fired at. */
typedef struct held_event {
    int kind;
    int depth;
    long origin; /* a store's log row of the call that fired it, or -1 */
    cJSON *json;
} held_event;

/* Holds the event: 1, or 0 when memory ran out (delivered now instead). */
static int hold_event(limitr_engine *e, int kind, payload *p)
{
    const cJSON *json;
    held_event *h;
    if (e->n_held == e->cap_held) {
        size_t cap = e->cap_held ? e->cap_held * 2 : 8;
        held_event *grown = realloc(e->held, cap * sizeof *grown);
        if (grown == NULL) return 0;
        e->held = grown;
        e->cap_held = cap;
    }
    if ((json = limitr__payload_cjson(e, p)) == NULL) return 0;
    h = &e->held[e->n_held];
    /* a deep copy: the payload's JSON may refer to a customer snapshot its
       event frame owns */
    if ((h->json = cJSON_Duplicate(json, 1)) == NULL) return 0;
    h->kind = kind;
    h->depth = e->delivering;
    h->origin = e->store != NULL ? limitr__store_open_row(e) : -1;
    e->n_held++;
    return 1;
}

void limitr__emit_payload(limitr_engine *e, event_kind ev, payload *p)
{
    /* `error` is never held: it fires at once */
    if (e->hold_events && e->holding > 0 && ev != EV_ERROR &&
        hold_event(e, ev, p)) {
        limitr__payload_free(p);
        return;
    }
    /* delivered inside a shared section: what its subscribers write stays */
    if (e->shared != NULL && e->holding > 0) limitr__shared_keep(e);
    emit_now(e, ev, p);
}

void limitr__drop_held(limitr_engine *e)
{
    size_t i;
    for (i = 0; i < e->n_held; i++)
        cJSON_Delete(e->held[i].json);
    e->n_held = 0;
}

void limitr__deliver_held(limitr_engine *e)
{
    held_event *events = e->held; /* taken: deliveries hold their own */
    size_t n = e->n_held, i;
    int was = e->delivering;
    call_answer answer;
    limitr__answer_keep(e, &answer);
    e->held = NULL;
    e->n_held = e->cap_held = 0;
    for (i = 0; i < n; i++) {
        payload p;
        p.n = 0;
        p.depth = 0;
        p.json = events[i].json; /* freed by emit_now */
        p.text = NULL;
        e->delivering = events[i].depth;
        if (e->store != NULL) limitr__store_origin(e, events[i].origin);
        emit_now(e, (event_kind)events[i].kind, &p);
    }
    if (e->store != NULL) limitr__store_origin(e, -1);
    e->delivering = was;
    free(events);
    limitr__answer_restore(e, &answer);
}

void limitr__emit(limitr_engine *e, event_kind ev, cJSON *json)
{
    payload p;
    if (json == NULL) return; /* out of memory: the event is lost */
    p.n = 0;                  /* no items: the other forms come from json */
    p.depth = 0;
    p.json = json;
    p.text = NULL;
    limitr__emit_payload(e, ev, &p);
}
