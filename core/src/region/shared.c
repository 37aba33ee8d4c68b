/* shared.c: engines whose customer state lives in a region shared by
 * processes (region.h, docs/shared.md). The engine stays one engine: its
 * state's home is the region (allocator and journal), and the outermost
 * call holds the region's lock (limitr__shared_enter / _leave). Each
 * process keeps its own compiled policy, snippet VM, subscriptions and
 * results; a reload publishes the policy's text in the region, and every
 * other process compiles it at its next call. So does a process forked
 * since (an nginx worker): its first call compiles the policy into a
 * snippet VM of its own instead of using the copy the fork made. */
#define _GNU_SOURCE /* dladdr, RTLD_NODELETE */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "region.h"

#define DEFAULT_SIZE ((size_t)16 << 20)
#define DEFAULT_SHARDS 1024u
#define DEFAULT_LOCK_TIMEOUT_MS 1000
#define MAX_REGIONS 64 /* names per process (docs/shared.md) */
#define MAX_NAME 64
/* Customers re-reached in one call are journaled once (past this many,
   again: harmless). */
#define MAX_TOUCHED 8
/* The smallest a customer costs (record, ID, strings, index slots): the
   customer index is sized once from it, so that it never grows. */
#define MIN_CUSTOMER_BYTES 800

typedef struct shared_link shared_link;

/* A region this process mapped, by name: a second limitr_shared (nginx
 * reloading its configuration, in the master) finds it again. depth: this
 * process's hold on its lock, whichever of its engines took it (an engine's
 * handler may call another engine on the same region: the lock is not
 * recursive). */
typedef struct region_slot {
    char name[MAX_NAME];
    region *r;
    int depth;
    /* The open section ran out of room: undone at its unlock if its call
       fails for it (region_full), unless `keep`: something ran in it whose
       writes must stay (a nested call, an event's subscribers, policy
       names this process holds the indexes of). */
    int full, keep;
    int deciding; /* decision snippets running, whichever engine's */
} region_slot;

/* The reason of a call that failed for want of room; by address, so that
   nothing else (an on_exceed snippet's own reason) is taken for it. */
static const char region_full[] = "region_full";

/* One process's link to a region. */
struct shared_link {
    region_slot *slot; /* its region, and this process's hold on it */
    int64_t lock_timeout_ms;
    unsigned shards;
    uint64_t generation; /* of the policy this process compiled */
    unsigned long forks; /* `forks` when it compiled it */
    customer *touched[MAX_TOUCHED];
    int n_touched;
};

/* Forks this process has been the child of (pthread_atfork: no getpid on
   the hot path). */
static unsigned long forks;
static pthread_once_t fork_watch = PTHREAD_ONCE_INIT;
static int fork_watched; /* pthread_atfork took count_fork */
static region_slot regions[MAX_REGIONS];
static size_t n_regions;

/* In the child of a fork: a new process, which holds no region's lock
   (the parent's hold, if the fork came from inside a call, stays the
   parent's). */
static void count_fork(void)
{
    size_t i;
    forks++;
    for (i = 0; i < n_regions; i++)
        regions[i].depth = regions[i].deciding = 0;
    limitr__region_forked();
}

static void watch_forks(void)
{
    fork_watched = pthread_atfork(NULL, NULL, count_fork) == 0;
}
static pthread_mutex_t regions_mu = PTHREAD_MUTEX_INITIALIZER;

/* Keeps this library loaded while a region lives, whoever unloads it (a Lua
 * VM closing its C modules): the table above must outlive them. */
static void stay_loaded(void)
{
    Dl_info info;
    if (dladdr((void *)stay_loaded, &info) != 0 && info.dli_fname != NULL)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

/* ---- The lock, per process ---- */

/* Takes the region's lock for this process (once, whatever the nesting):
   LIMITR_OK, or the failure set on e. */
static int slot_lock(limitr_engine *e, region_slot *slot, int64_t timeout_ms)
{
    int rc;
    if (slot->depth > 0) {
        slot->depth++;
        slot->keep = 1;
        return LIMITR_OK;
    }
    rc = limitr__region_lock(slot->r, timeout_ms);
    if (rc > 0)
        return limitr__fail(e, LIMITR_ERROR, "lock_timeout", "lock timeout");
    if (rc < 0)
        return limitr__fail(e, LIMITR_ERROR, "lock_failed",
                            "the state region's lock cannot be recovered");
    slot->depth = 1;
    slot->full = slot->keep = 0;
    /* the state's root is written in place by many calls: saved whole */
    if (limitr__region_root(slot->r) != NULL)
        limitr__region_save(slot->r, limitr__region_root(slot->r),
                            sizeof(state_data));
    return LIMITR_OK;
}

static void slot_unlock(region_slot *slot)
{
    if (--slot->depth == 0) limitr__region_unlock(slot->r);
}

/* ---- Calls ---- */

int limitr__shared_enter(limitr_engine *e)
{
    shared_link *s = e->shared;
    int status = slot_lock(e, s->slot, s->lock_timeout_ms);
    if (status != LIMITR_OK) return status;
    s->n_touched = 0;
    if (s->forks != forks && e->policy->vm == NULL)
        s->forks = forks; /* forked, but no snippet VM to make its own */
    if (limitr__region_generation(s->slot->r) != s->generation ||
        s->forks != forks) {
        /* Another process reloaded, or this one was forked since it
           compiled (a worker: its own snippet VM, its `lua` chunk run in
           it): compile the region's policy before deciding. */
        size_t len;
        const char *format;
        const char *text = limitr__region_policy(s->slot->r, &len, &format);
        uint64_t generation = limitr__region_generation(s->slot->r);
        e->holding++; /* the adoption runs inside this call */
        if (limitr__adopt_policy(e, text, len, format) == LIMITR_OK) {
            s->generation = generation;
        } else {
            /* a reload is tried again at the next call; a fork's copy of
               the VM is kept (it works: only its own would be better) */
            limitr__report_error(e, "reload", limitr_last_error(e));
        }
        s->forks = forks;
        e->holding--;
    }
    return LIMITR_OK;
}

int limitr__shared_leave(limitr_engine *e)
{
    region_slot *slot = e->shared->slot;
    int full = slot->depth == 1 && slot->full;
    if (full && !slot->keep && e->code == region_full) {
        /* the call failed for want of room: it changes nothing, not even
           what was due anyway (an expired grant dropped, a reset stored).
           The epoch moves past any the section used, so no cache filled
           inside it is taken for valid again. */
        uint64_t seen = e->st.d->epoch;
        if (limitr__region_undo(slot->r) == 0) {
            limitr__region_save(slot->r, &e->st.d->epoch, sizeof seen);
            e->st.d->epoch = seen + 1;
            limitr__drop_held(e); /* they told of what was undone */
        }
    }
    slot_unlock(slot);
    return full;
}

void limitr__shared_keep(limitr_engine *e)
{
    e->shared->slot->keep = 1;
}

void limitr__shared_deciding(const limitr_engine *e, int delta)
{
    e->shared->slot->deciding += delta;
}

int limitr__shared_deciding_now(const limitr_engine *e)
{
    return e->shared->slot->deciding > 0;
}

void limitr__shared_report_full(limitr_engine *e)
{
    call_answer answer;
    limitr__answer_keep(e, &answer);
    limitr__report_error(e, "state", "state region full");
    limitr__answer_restore(e, &answer);
}

void limitr__shared_touch(const limitr_engine *e, customer *c)
{
    shared_link *s = e->shared;
    int i;
    for (i = 0; i < s->n_touched; i++)
        if (s->touched[i] == c) return;
    if (s->n_touched < MAX_TOUCHED) s->touched[s->n_touched++] = c;
    limitr__customer_save((state *)&e->st, c);
}

int limitr__shared_publish(limitr_engine *e, const char *text, size_t len,
                           const char *format)
{
    shared_link *s = e->shared;
    if (limitr__region_set_policy(s->slot->r, text, len, format) != 0)
        return LIMITR_NOMEM;
    s->generation = limitr__region_generation(s->slot->r);
    return LIMITR_OK;
}

int limitr__shared_nomem(limitr_engine *e)
{
    region_slot *slot = e->shared->slot;
    if (limitr__region_ran_out(slot->r)) {
        if (slot->depth == 1 && !slot->keep) {
            /* undoable: the `error` event fires once the section is over,
               outside the lock (limitr__shared_report_full) */
            slot->full = 1;
        } else {
            /* first the event: what its subscribers call must not take
               the place of this call's error */
            limitr__report_error(e, "state", "state region full");
        }
        return limitr__fail(e, LIMITR_NOMEM, region_full,
                            "state region full");
    }
    return limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
}

struct region *limitr__shared_region(const limitr_engine *e)
{
    return e->shared->slot->r;
}

void limitr__shared_detach(limitr_engine *e)
{
    free(e->shared);
    e->shared = NULL;
    e->st.d = NULL;
}

/* ---- Opening ---- */

static region_slot *slot_named(const char *name)
{
    size_t i;
    for (i = 0; i < n_regions; i++)
        if (strcmp(regions[i].name, name) == 0) return &regions[i];
    return NULL;
}

/* Forgets a region this call made and could not use (nobody else knows it
   yet: its first engine failed before it was returned). */
static void slot_drop(region_slot *slot)
{
    pthread_mutex_lock(&regions_mu);
    limitr__region_unmap(slot->r);
    *slot = regions[--n_regions];
    pthread_mutex_unlock(&regions_mu);
}

/* A new region holding an empty state; NULL when the system refuses. */
static region *region_new(size_t size)
{
    region *r = limitr__region_map(size);
    state_home home = {limitr__region_realloc, limitr__region_save, NULL};
    state st;
    if (r == NULL) return NULL;
    home.ud = r;
    if (limitr__state_open(&st, &home) != 0 ||
        limitr__idmap_reserve(&st, &st.d->customers,
                              (size - REGION_FIXED_SIZE(size)) /
                                  MIN_CUSTOMER_BYTES) != 0) {
        limitr__region_unmap(r);
        return NULL;
    }
    limitr__region_set_root(r, st.d);
    return r;
}

static int open_failed(limitr_engine **out, int status, const char *code,
                       const char *msg, const char *detail)
{
    *out = limitr__engine_create(NULL, NULL);
    if (*out == NULL) return LIMITR_NOMEM;
    return limitr__fail(*out, status, code, "%s%s", msg, detail);
}

int limitr_shared(const char *policy, size_t len, const char *format,
                  const limitr_options *opts,
                  const limitr_shared_options *shared, limitr_engine **out)
{
    limitr_shared_options o = {"limitr", DEFAULT_SIZE, DEFAULT_SHARDS,
                               DEFAULT_LOCK_TIMEOUT_MS};
    state st;
    limitr_engine *e;
    region *r;
    region_slot *slot;
    int status, attached, differs = 0;
    size_t text_len;
    const char *text, *text_format;
    if (out == NULL) return LIMITR_INVALID;
    if (shared != NULL) {
        if (shared->name != NULL) o.name = shared->name;
        if (shared->size != 0) o.size = shared->size;
        if (shared->shards != 0) o.shards = shared->shards;
        if (shared->lock_timeout_ms != 0)
            o.lock_timeout_ms = shared->lock_timeout_ms;
    }
    if (o.name[0] == '\0' || strlen(o.name) >= MAX_NAME)
        return open_failed(out, LIMITR_INVALID, NULL,
                           "limitr.shared: name must have 1 to 63 bytes", "");
    if (o.size < REGION_MIN_SIZE)
        return open_failed(out, LIMITR_INVALID, NULL,
                           "limitr.shared: size must be at least 1m", "");
    if ((o.shards & (o.shards - 1)) != 0)
        return open_failed(out, LIMITR_INVALID, NULL,
                           "limitr.shared: shards must be a power of two", "");
    if (o.lock_timeout_ms < 1)
        return open_failed(out, LIMITR_INVALID, NULL,
                           "limitr.shared: lock_timeout must be at least 1 ms",
                           "");
    if (policy == NULL)
        return open_failed(out, LIMITR_INVALID, NULL,
                           "(document): ", "no text given");
    pthread_once(&fork_watch, watch_forks);
    if (!fork_watched)
        return open_failed(out, LIMITR_ERROR, NULL,
                           "limitr.shared: cannot watch for forks ",
                           "(pthread_atfork failed)");

    pthread_mutex_lock(&regions_mu);
    slot = slot_named(o.name);
    attached = slot != NULL;
    if (slot != NULL && limitr__region_size(slot->r) != o.size) {
        pthread_mutex_unlock(&regions_mu);
        *out = limitr__engine_create(NULL, NULL);
        if (*out == NULL) return LIMITR_NOMEM;
        return limitr__fail(*out, LIMITR_INVALID, NULL,
                            "limitr.shared: region '%s' exists with another "
                            "size",
                            o.name);
    }
    if (slot == NULL) {
        if (n_regions == MAX_REGIONS) {
            pthread_mutex_unlock(&regions_mu);
            return open_failed(out, LIMITR_INVALID, NULL,
                               "limitr.shared: too many regions", "");
        }
        if ((r = region_new(o.size)) == NULL) {
            pthread_mutex_unlock(&regions_mu);
            return open_failed(out, LIMITR_NOMEM, NULL,
                               "limitr.shared: cannot map the region", "");
        }
        slot = &regions[n_regions++];
        strcpy(slot->name, o.name);
        slot->r = r;
        slot->depth = 0;
        stay_loaded();
    }
    pthread_mutex_unlock(&regions_mu);
    r = slot->r;

    st.home.realloc = limitr__region_realloc;
    st.home.save = limitr__region_save;
    st.home.ud = r;
    st.d = limitr__region_root(r);
    if ((*out = e = limitr__engine_create(opts, &st)) == NULL ||
        (e->shared = calloc(1, sizeof *e->shared)) == NULL) {
        if (e != NULL) e->st.d = NULL; /* not this engine's */
        limitr_free(e);
        *out = NULL;
        if (!attached) slot_drop(slot);
        return LIMITR_NOMEM;
    }
    e->shared->slot = slot;
    e->shared->forks = forks;
    e->hold_events = 1; /* events come after the unlock */
    e->shared->lock_timeout_ms = o.lock_timeout_ms;
    e->shared->shards = o.shards;

    /* The engine compiles the region's policy (a region already in use),
       then makes the given one the region's: a reload when it differs. */
    if ((status = slot_lock(e, slot, o.lock_timeout_ms)) != LIMITR_OK)
        goto fail;
    text = limitr__region_policy(r, &text_len, &text_format);
    if (text == NULL) {
        status = limitr__engine_compile(e, policy, len, format, opts);
        if (status == LIMITR_OK &&
            limitr__region_set_policy(r, policy, len, format) != 0)
            status = limitr__shared_nomem(e);
    } else {
        status = limitr__engine_compile(e, text, text_len, text_format, opts);
        differs = text_len != len || memcmp(text, policy, len) != 0;
    }
    e->shared->generation = limitr__region_generation(r);
    slot_unlock(slot);
    if (status != LIMITR_OK) goto fail;
    e->hooked = 1;
    if (differs) {
        const char *report;
        status = limitr_reload(e, policy, len, format, &report);
        if (status != LIMITR_OK) goto fail;
    }
    return limitr__ok(e);

fail:
    /* The engine keeps its error; it no longer holds the region. */
    if (e->policy != NULL) {
        limitr__policy_free(e->policy);
        e->policy = NULL;
    }
    free(e->shared);
    e->shared = NULL;
    e->hooked = 0;
    if (!attached) slot_drop(slot);
    e->st.d = NULL; /* not its own: freeing it closes nothing */
    return status;
}

int limitr_stats(limitr_engine *e, limitr_shared_stats *out)
{
    region_stats rs;
    LIMITR_ENTER(e);
    if (out == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL, "stats: no output given");
    if (e->shared == NULL)
        return limitr__fail(e, LIMITR_INVALID, "not_shared",
                            "stats: the engine is not shared");
    limitr__region_stats(e->shared->slot->r, &rs);
    out->size = rs.size;
    out->used = rs.used;
    out->free = rs.free;
    out->customers = e->st.d->customers.live;
    out->shards = e->shared->shards;
    out->recoveries = rs.recoveries;
    out->locks = rs.locks;
    out->journal_overflows = rs.journal_overflows;
    out->journal_grown = rs.journal_grown;
    out->lock_waits = rs.lock_waits;
    return limitr__ok(e);
}
