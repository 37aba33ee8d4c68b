/* engine.c: engine life cycle, errors as values, the clock, and holding
 * the state around each call. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "doc.h"
#include "engine.h"

const char *limitr_strerror(int code)
{
    switch (code) {
#define LIMITR_STATUS_TEXT(name, num, text)                                    \
    case num:                                                                  \
        return text;
        LIMITR_STATUS_MAP(LIMITR_STATUS_TEXT)
#undef LIMITR_STATUS_TEXT
    }
    return "unknown status code";
}

/* ---- Errors ---- */

/* The code of a failure that has no more precise one: by status. */
static const char *status_code(int status)
{
    switch (status) {
    case LIMITR_OK:
        return "";
    case LIMITR_NOT_FOUND:
        return "not_found";
    case LIMITR_INVALID:
        return "invalid_argument";
    case LIMITR_NOMEM:
        return "out_of_memory";
    case LIMITR_SCRIPT:
        return "script_error";
    case LIMITR_BUDGET:
        return "script_budget";
    case LIMITR_MEMCAP:
        return "script_memory";
    default:
        return "other_error";
    }
}

int limitr__fail(limitr_engine *e, int status, const char *code,
                 const char *fmt, ...)
{
    va_list ap;
    int n;
    char *text;
    e->code = code != NULL ? code : status_code(status);
    e->has_message = 0;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    free(e->message);
    e->message = NULL;
    if (n < 0 || (text = malloc((size_t)n + 1)) == NULL) return status;
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    e->message = text;
    e->has_message = 1;
    return status;
}

/* Messages for people of the codes the hot path sets without formatting. */
static const struct {
    const char *code, *message;
} code_messages[] = {
    {"limit", "denied: the call would pass the limit"},
    {"governor", "denied: the rate governor has too few tokens for the call"},
    {"not_metered", "the entitlement is a feature flag: nothing is metered"},
    {"unknown_customer",
     "unknown customer (no customer has this ID or alt ID)"},
    {"unknown_entitlement", "the entitlement is not in the customer's plan"},
    {"no_plan", "the customer has no plan and the policy no default plan"},
    {"unknown_plan", "unknown plan"},
    {"unknown_credit", "the policy has no credit of that name"},
    {"no_scope_customer", "no customer of the entitlement's scope type is "
                          "reachable through the caller's refs"},
    {"invalid_value", "invalid value: not a finite number, or a unit of "
                      "another dimension than the credit's"},
    {"alt_id_in_use", "the alt ID is held by another customer"},
    {"unknown_alt_id", "no customer has this alt ID"},
    {"same_plan", "the customer is already on this plan"},
    {"no_override", "the customer has no override for this entitlement"},
    {"no_subscription", "no subscription has this id"},
    {"snapshot_expired", "an event's customer snapshot can be read only "
                         "while the event is delivered"},
    {"unknown_currency", "neither rune, an exchange pair nor a priced "
                         "credit"},
    {"no_exchange", "one unit of it is worth nothing: nothing converts "
                    "into it"},
    {"snapshot_moved", "the customer or the clock moved since the event: "
                       "read its snapshot with limitr_event_snapshot"},
    {"unknown_lib", "no host function of that name"},
    {"observe", "not defined for an observe limit"},
    {"no_reset", "the limit does not reset"},
    {"no_projection", "nothing to project: no rate, or nothing remaining"},
    {"needs_customer", "a plan's snippet limit needs a customer to evaluate"},
    {"error", "a limit value snippet failed (an error event was fired)"},
    {"self_reference", "a limit value snippet reads its own limit (or value "
                       "snippets nest more than 8 deep)"},
    {"event_depth", "events nest too deeply: an event subscriber or handler "
                    "calls the engine that fires them again"},
    {"engine_busy", "the engine cannot be changed while a decision "
                    "snippet runs"},
    {"no_policy", "the engine has no policy: limitr_new or limitr_load "
                  "failed"},
    {"out_of_memory", "out of memory"},
};

const char *limitr_last_reason(const limitr_engine *e)
{
    if (e == NULL) return "no_engine";
    return e->code;
}

const char *limitr_last_error(const limitr_engine *e)
{
    size_t i;
    if (e == NULL) return "no engine";
    if (e->has_message) return e->message;
    if (e->code[0] == '\0') return "";
    for (i = 0; i < sizeof code_messages / sizeof code_messages[0]; i++)
        if (strcmp(code_messages[i].code, e->code) == 0)
            return code_messages[i].message;
    /* An on_exceed snippet's own reason: the code is the message. */
    return e->code;
}

/* Keeps json's text as the engine's borrowed result; frees json. */
int limitr__set_result(limitr_engine *e, cJSON *json, const char **out)
{
    char *text;
    if (json == NULL)
        return limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
    text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    if (text == NULL)
        return limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
    free(e->result);
    e->result = text;
    if (out != NULL) *out = text;
    return limitr__ok(e);
}

/* ---- Clock ---- */

int64_t limitr__now(limitr_engine *e)
{
    struct timespec ts;
    if (e->st.d->clock_is_set) return e->st.d->clock;
        /* The coarse clock (a few ms of resolution) costs a fraction of the
           precise one, and engine time is whole ms anyway. */
#ifdef CLOCK_REALTIME_COARSE
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
#else
    clock_gettime(CLOCK_REALTIME, &ts);
#endif
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t limitr_now(limitr_engine *e)
{
    if (e == NULL) return 0;
    {
        state_hold hold __attribute__((cleanup(limitr__release), unused)) =
            limitr__hold(e);
        limitr__ok(e);
        return limitr__now(e);
    }
}

static int set_clock(limitr_engine *e, int64_t ms, const char *what)
{
    /* a decision reads the clock more than once: it must not move under
       it (the call would judge one period and record in another) */
    if (limitr__in_decision(e))
        return limitr__fail(e, LIMITR_ERROR, "engine_busy",
                            "%s: the clock cannot move from inside a limit "
                            "value, on_exceed or cost snippet",
                            what);
    if (ms < -LIMITR_MAX_TIME || ms > LIMITR_MAX_TIME)
        return limitr__fail(e, LIMITR_INVALID, "invalid_value",
                            "%s: the clock must stay within +-%lld ms of "
                            "1970 (the ECMAScript date range)",
                            what, (long long)LIMITR_MAX_TIME);
    /* called from inside another call (a host function a snippet called):
       its section must keep the clock it answered OK for */
    if (e->shared != NULL && e->holding > 1) limitr__shared_keep(e);
    e->st.d->clock = ms;
    e->st.d->clock_is_set = 1;
    return limitr__ok(e);
}

int limitr_set_time(limitr_engine *e, int64_t ms)
{
    LIMITR_ENTER(e);
    return set_clock(e, ms, "set_time");
}

int limitr_advance(limitr_engine *e, int64_t ms)
{
    int64_t now;
    LIMITR_ENTER(e);
    now = limitr__now(e);
    if (ms < -2 * LIMITR_MAX_TIME || ms > 2 * LIMITR_MAX_TIME)
        return set_clock(e, ms < 0 ? INT64_MIN : INT64_MAX, "advance");
    return set_clock(e, now + ms, "advance");
}

/* ---- Life cycle ---- */

limitr_engine *limitr__engine_create(const limitr_options *opts,
                                     const state *in)
{
    limitr_engine *e;
    limitr_allocator alloc = {limitr__heap_realloc, NULL};
    state_home home;
    if (opts != NULL && opts->allocator != NULL &&
        opts->allocator->realloc != NULL)
        alloc = *opts->allocator;
    e = alloc.realloc(alloc.ud, NULL, 0, sizeof *e);
    if (e == NULL) return NULL;
    memset(e, 0, sizeof *e);
    e->alloc = alloc;
    e->next_sub_id = 1;
    e->walk.n = -1; /* no walk kept */
    e->all_segment = -1;
    e->code = "";
    if (in != NULL) {
        e->st = *in;
        return e;
    }
    /* The heap home, through the engine's allocator. */
    home.realloc = alloc.realloc;
    home.ud = alloc.ud;
    home.save = NULL;
    if (limitr__state_open(&e->st, &home) != 0) {
        alloc.realloc(alloc.ud, e, sizeof *e, 0);
        return NULL;
    }
    return e;
}

void limitr__answer_keep(limitr_engine *e, call_answer *a)
{
    _Static_assert(sizeof a->reason == sizeof e->reason_buf, "reason_buf");
    a->code = e->code;
    a->message = e->message;
    a->result = e->result;
    a->has_message = e->has_message;
    memcpy(a->reason, e->reason_buf, sizeof a->reason);
    e->message = e->result = NULL;
}

void limitr__answer_restore(limitr_engine *e, call_answer *a)
{
    free(e->message);
    free(e->result);
    e->message = a->message;
    e->result = a->result;
    e->has_message = a->has_message;
    memcpy(e->reason_buf, a->reason, sizeof a->reason);
    e->code = a->code;
}

/* ---- Entering and leaving calls (the slow side of limitr__hold) ---- */

int limitr__enter_hooked(limitr_engine *e)
{
    if (e->holding == 0 && e->shared != NULL) {
        int status = limitr__shared_enter(e);
        if (status != LIMITR_OK) return status;
    }
    e->holding++;
    if (e->store != NULL) limitr__store_enter(e);
    return LIMITR_OK;
}

void limitr__leave_hooked(limitr_engine *e)
{
    if (e->store != NULL) limitr__store_leave(e); /* sees e->holding */
    if (--e->holding == 0 && e->shared != NULL) {
        int full = limitr__shared_leave(e);
        /* unlocked: handlers may call the engine, each call its own hold */
        if (e->n_held > 0) limitr__deliver_held(e);
        if (full) limitr__shared_report_full(e);
    }
}

void limitr__touch_hooked(const limitr_engine *e, customer *c)
{
    if (e->store != NULL) limitr__store_reach(e->store, c);
    if (e->shared != NULL) limitr__shared_touch(e, c);
}

void limitr__touch_all(limitr_engine *e, int in_place)
{
    size_t i;
    if (e->store != NULL) limitr__store_all(e);
    if (e->shared == NULL || !in_place) return;
    for (i = 0; i < e->st.d->customers.cap; i++) {
        customer *c = limitr__idmap_at(&e->st.d->customers, i);
        if (c != NULL) limitr__customer_save(&e->st, c);
    }
    limitr__st_save(&e->st, e->st.d->estimates.items,
                    e->st.d->estimates.n * sizeof *e->st.d->estimates.items);
}

int limitr__intern_policy_names(limitr_engine *e, const lp_policy *p,
                                int **ent_names, int **credit_names)
{
    size_t i;
    /* this process keeps the names' indexes: a failing call that made them
       is not undone */
    if (e->shared != NULL && e->holding > 0) limitr__shared_keep(e);
    *ent_names = malloc((p->n_ent_names + 1) * sizeof **ent_names);
    *credit_names = malloc((p->n_credits + 1) * sizeof **credit_names);
    if (*ent_names == NULL || *credit_names == NULL) goto nomem;
    for (i = 0; i < p->n_ent_names; i++)
        if (((*ent_names)[i] = limitr__state_intern(&e->st, p->ent_names[i],
                                                    p->ent_name_lens[i])) < 0)
            goto nomem;
    for (i = 0; i < p->n_credits; i++)
        if (((*credit_names)[i] = limitr__state_intern(
                 &e->st, p->credits[i].name, strlen(p->credits[i].name))) < 0)
            goto nomem;
    return 0;
nomem:
    free(*ent_names);
    free(*credit_names);
    *ent_names = *credit_names = NULL;
    return -1;
}

void limitr__policy_listeners(limitr_engine *e, const lp_policy *p, int sign)
{
    /* Notifications see a call's events. */
    static const event_kind seen[] = {
        EV_METER_CHANGED,        EV_METER_OVERAGE, EV_METER_LIMIT,
        EV_METER_GOVERNED,       EV_METER_RESET,   EV_CAP_LIMIT,
        EV_CAP_THRESHOLD_CROSSED};
    size_t i;
    int ev;
    if (p->vm == NULL) return;
    for (ev = 0; ev < EV_COUNT; ev++) /* handlers listen */
        if (p->handler_refs[ev] > 0) e->listeners[ev] += sign;
    if (p->n_notifications > 0)
        for (i = 0; i < sizeof seen / sizeof seen[0]; i++)
            e->listeners[seen[i]] += sign;
}

int limitr_new(const char *text, size_t len, const char *format,
               const limitr_options *opts, limitr_engine **out)
{
    if (out == NULL) return LIMITR_INVALID;
    *out = limitr__engine_create(opts, NULL);
    if (*out == NULL) return LIMITR_NOMEM;
    return limitr__engine_compile(*out, text, len, format, opts);
}

int limitr__engine_compile(limitr_engine *e, const char *text, size_t len,
                           const char *format, const limitr_options *opts)
{
    char *err = NULL;
    if (text == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "(document): no text given");
    if (format != NULL && strcmp(format, "yaml") != 0 &&
        strcmp(format, "json") != 0)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "unknown format '%s' (use \"yaml\" or \"json\")",
                            format);
    {
        script_limits limits = {
            LIMITR_DEFAULT_SNIPPET_INSTRUCTIONS, LIMITR_DEFAULT_SNIPPET_MS,
            LIMITR_DEFAULT_SNIPPET_MEMORY, LIMITR_DEFAULT_PATTERN_STEPS};
        if (opts != NULL && opts->snippet_instructions > 0)
            limits.instructions = opts->snippet_instructions;
        if (opts != NULL && opts->snippet_milliseconds > 0)
            limits.milliseconds = opts->snippet_milliseconds;
        if (opts != NULL && opts->snippet_memory > 0)
            limits.memory = opts->snippet_memory;
        if (opts != NULL && opts->pattern_steps > 0)
            limits.pattern_steps = opts->pattern_steps;
        e->policy = limitr__policy_compile(text, len, format, &limits, &err);
    }
    if (e->policy == NULL) {
        int status;
        if (err == NULL) return limitr__nomem(e);
        status = limitr__fail(e, LIMITR_INVALID, "invalid_policy", "%s", err);
        free(err);
        return status;
    }
    if (limitr__intern_policy_names(e, e->policy, &e->ent_names,
                                    &e->credit_names) != 0 ||
        (e->rune_name = limitr__state_intern(&e->st, "rune", 4)) < 0 ||
        limitr__estimates_seed(e) != 0) {
        limitr__policy_free(e->policy);
        e->policy = NULL; /* a failed engine */
        return limitr__nomem(e);
    }
    limitr__record_units(e);
    limitr__name_limit_credits(e->policy, e->credit_names);
    if (e->policy->vm != NULL) limitr__bind_script(e);
    limitr__policy_listeners(e, e->policy, +1);
    return limitr__ok(e);
}

const char *limitr__format_of_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot == NULL) return NULL;
    if (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0) return "yaml";
    if (strcmp(dot, ".json") == 0) return "json";
    return NULL;
}

int limitr__read_file(const char *path, char **text, size_t *len, char *msg,
                      size_t msg_len)
{
    FILE *f;
    char *buf = NULL;
    size_t cap = 0, n;
    *len = 0;
    *text = NULL;
    if (path == NULL) {
        snprintf(msg, msg_len, "no path given");
        return LIMITR_INVALID;
    }
    if ((f = fopen(path, "rb")) == NULL) {
        snprintf(msg, msg_len, "cannot open '%s': %s", path, strerror(errno));
        return LIMITR_NOT_FOUND;
    }
    for (;;) {
        if (*len == cap) {
            char *grown;
            /* One byte past the size limit is enough to reject it. */
            if (cap > LIMITR_DEFAULT_MAX_DOCUMENT) break;
            cap = cap ? cap * 2 : 65536;
            if ((grown = realloc(buf, cap)) == NULL) {
                free(buf);
                fclose(f);
                snprintf(msg, msg_len, "out of memory");
                return LIMITR_NOMEM;
            }
            buf = grown;
        }
        n = fread(buf + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0) break;
    }
    if (ferror(f)) { /* a directory opens, then fails to read (EISDIR) */
        snprintf(msg, msg_len, "cannot read '%s': %s", path, strerror(errno));
        free(buf);
        fclose(f);
        return LIMITR_NOT_FOUND; /* "the file cannot be read" (limitr.h) */
    }
    fclose(f);
    *text = buf;
    return LIMITR_OK;
}

int limitr_load(const char *path, const limitr_options *opts,
                limitr_engine **out)
{
    char *buf, msg[512];
    size_t len;
    int status;
    if (out == NULL) return LIMITR_INVALID;
    status = limitr__read_file(path, &buf, &len, msg, sizeof msg);
    if (status != LIMITR_OK) {
        *out = limitr__engine_create(opts, NULL);
        if (*out == NULL) return LIMITR_NOMEM;
        return limitr__fail(*out, status, NULL, "%s", msg);
    }
    status = limitr_new(buf != NULL ? buf : "", len,
                        limitr__format_of_path(path), opts, out);
    free(buf);
    return status;
}

void limitr_free(limitr_engine *e)
{
    limitr_allocator alloc;
    if (e == NULL) return;
    if (e->store != NULL) limitr__store_free(e);
    limitr__events_free(e);
    limitr__policy_free(e->policy);
    if (e->shared != NULL)
        limitr__shared_detach(e); /* the state stays, for the others */
    else
        limitr__state_close(&e->st);
    free(e->ent_names);
    free(e->credit_names);
    free(e->walk.queue);
    free(e->walk.seen);
    free(e->walk.refs);
    free(e->caches);
    free(e->message);
    free(e->result);
    alloc = e->alloc;
    alloc.realloc(alloc.ud, e, sizeof *e, 0);
}
