/* store.c: the durable store, the engine's side (docs/store.md).
 *
 * A call marks the customers it reaches (every lookup does, with a store
 * set) and opens a row of the decision log. When the outermost call ends,
 * each reached customer is written out as its state document; the ones
 * whose text did not change (a read, a denial that moved nothing) are
 * dropped by their hash, and the rest, the deleted rows, the policy-wide
 * parts and the log rows make one batch: written at once in one
 * transaction (sync), or by the writer thread every batch_ms (batch),
 * which takes the engine between calls to collect what changed. */
#define _GNU_SOURCE /* syscall(2), for membarrier */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "limitr.h"
#include "state_doc.h"
#include "store.h"
#include "textbuf.h"

/* ---- Batches ---- */

/* How many rows ahead a logged call prefetches (about 600 bytes). */
#define LOG_PREFETCH_AHEAD 8

static size_t put_text(batch *b, const char *s, size_t len)
{
    size_t at = b->text.n;
    if (s == NULL) return NOSTR;
    limitr__tb_put_z(&b->text, s, len); /* each string ends with its NUL */
    return at;
}

/* put_text for a log row: a 32-bit offset, or LOG_NOSTR when nothing was
 * put (s NULL, out of memory, or a batch's text past 4 GiB, which fails
 * the batch as out of memory: docs/store.md). */
static uint32_t put_row_text(batch *b, const char *s, size_t len)
{
    size_t at = put_text(b, s, len);
    if (at == NOSTR || b->text.nomem) return LOG_NOSTR;
    if (at >= LOG_NOSTR) {
        b->text.nomem = 1;
        return LOG_NOSTR;
    }
    return (uint32_t)at;
}

/* memcmp(a, b, len) == 0, the short strings of log rows without a call. */
static inline int same_bytes(const char *a, const char *b, size_t len)
{
    size_t i;
    if (len > 16) return memcmp(a, b, len) == 0;
    for (i = 0; i < len; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* A row's string as put_row_text, or the copy *memo made last when the
 * text is the same (rows repeat customers, entitlements and reasons). */
static inline uint32_t put_row_text_memo(batch *b, const char *s, size_t len,
                                         text_memo *memo)
{
    if (s == NULL) return LOG_NOSTR;
    if (memo->at != LOG_NOSTR && memo->len == len &&
        memo->at + len < b->text.n && same_bytes(b->text.s + memo->at, s, len))
        return memo->at;
    memo->len = len;
    return memo->at = put_row_text(b, s, len);
}

/* Room for one more item in the array *items of b (n used, *cap held,
 * each `size` bytes), doubling from `first`: 0, or -1 with b out of
 * memory (the array as it was). */
static int batch_grow(batch *b, void **items, size_t n, size_t *cap,
                      size_t size, size_t first)
{
    size_t more = *cap ? *cap * 2 : first;
    void *grown;
    if (n < *cap) return 0;
    if ((grown = realloc(*items, more * size)) == NULL) {
        b->text.nomem = 1;
        return -1;
    }
    *items = grown;
    *cap = more;
    return 0;
}

/* r's extras (made empty the first time); NULL: out of memory. */
static log_extra *extra_of(batch *b, log_rec *r)
{
    log_extra *x;
    if (r->extra != LOG_NO_EXTRA) return &b->extras[r->extra];
    if (batch_grow(b, (void **)&b->extras, b->n_extras, &b->cap_extras,
                   sizeof *b->extras, 16) != 0)
        return NULL;
    x = &b->extras[b->n_extras];
    x->parent_seq = 0;
    x->value_text = x->opts = x->detail = NOSTR;
    x->overage = x->overage_price = x->price_diff = 0;
    r->extra = (uint32_t)b->n_extras++;
    return x;
}

static void batch_reset(batch *b)
{
    b->text.n = 0;
    b->n_rows = b->n_recs = b->n_extras = 0;
    b->meta_seq = b->meta_estimates = b->meta_units = NOSTR;
    b->policy_fp = b->policy_text = NOSTR;
    b->snapshot = b->snapshot_policy = NOSTR;
    b->snapshot_len = 0;
    b->fp_policy = NULL;
    b->fp = LOG_NOSTR;
    b->plan_name = NULL;
    b->plan = LOG_NOSTR;
    b->last_id.at = b->last_ent.at = b->last_reason.at = LOG_NOSTR;
}

static void batch_free(batch *b)
{
    limitr__tb_free(&b->text);
    free(b->rows);
    free(b->recs);
    free(b->extras);
}

static int batch_empty(const batch *b)
{
    return b->n_rows == 0 && b->n_recs == 0 && b->meta_seq == NOSTR &&
           b->meta_estimates == NOSTR && b->meta_units == NOSTR &&
           b->policy_fp == NOSTR && b->snapshot == NOSTR && !b->text.nomem;
}

static row_op *row_add(batch *b, int kind)
{
    if (batch_grow(b, (void **)&b->rows, b->n_rows, &b->cap_rows,
                   sizeof *b->rows, 64) != 0)
        return NULL;
    memset(&b->rows[b->n_rows], 0, sizeof *b->rows);
    b->rows[b->n_rows].kind = kind;
    return &b->rows[b->n_rows++];
}

/* ---- What calls reach ---- */

void limitr__store_reach(limitr_store *s, customer *c)
{
    if (c->reached) return;
    if (s->n_reached == s->cap_reached) {
        size_t cap = s->cap_reached ? s->cap_reached * 2 : 64;
        customer **r = realloc(s->reached, cap * sizeof *r);
        if (r == NULL) { /* every customer is written instead */
            s->all = 1;
            return;
        }
        s->reached = r;
        s->cap_reached = cap;
    }
    c->reached = 1;
    s->reached[s->n_reached++] = c;
}

void limitr__store_forget(limitr_engine *e, customer *c)
{
    limitr_store *s = e->store;
    row_op *r;
    size_t i;
    if (c->reached)
        for (i = 0; i < s->n_reached; i++)
            if (s->reached[i] == c) {
                s->reached[i] = s->reached[--s->n_reached];
                break;
            }
    c->reached = 0;
    if ((r = row_add(s->cur, OP_DELETE)) != NULL) {
        r->id = put_text(s->cur, c->id, c->id_len);
        r->id_len = c->id_len;
    }
}

void limitr__store_all(limitr_engine *e)
{
    limitr_store *s = e->store;
    size_t i;
    for (i = 0; i < s->n_reached; i++)
        s->reached[i]->reached = 0;
    s->n_reached = 0;
    e->store->all = 1;
    e->store->snapshot_now = 1;      /* after import and reload */
    e->store->cur->fp_policy = NULL; /* a new policy may reuse the address */
    e->store->cur->plan_name = NULL;
}

/* ---- The decision log ---- */

void limitr__store_op(limitr_engine *e, const char *op, const char *id,
                      size_t id_len, const char *ent, size_t ent_len,
                      const double *value, const char *value_text,
                      const char *args)
{
    limitr_store *s = e->store;
    batch *b = s->cur;
    log_rec *r;
    if (!s->log || batch_grow(b, (void **)&b->recs, b->n_recs, &b->cap_recs,
                              sizeof *b->recs, 256) != 0)
        return;
    r = &b->recs[b->n_recs];
    /* the rows a few calls on, asked for now: their lines come back from
       the writer thread's core while this call and the next run */
    if (b->n_recs + LOG_PREFETCH_AHEAD < b->cap_recs)
        __builtin_prefetch(r + LOG_PREFETCH_AHEAD, 1);
    if (id != NULL && id_len == (size_t)-1) id_len = strlen(id);
    /* every field written once: the row's memory is cold */
    r->ts = LOG_TS_UNSET; /* a decision's own clock, or the end's */
    r->has_value = value != NULL;
    r->value = value != NULL ? *value : 0;
    r->op = op;
    r->gate = NULL;
    r->id = put_row_text_memo(b, id, id_len, &b->last_id);
    r->ent = put_row_text_memo(b, ent, ent_len, &b->last_ent);
    r->reason = r->plan = LOG_NOSTR;
    if (b->fp_policy != e->policy) { /* one copy per policy per batch */
        b->fp = put_row_text(b, e->policy->fingerprint,
                             strlen(e->policy->fingerprint));
        b->fp_policy = e->policy;
    }
    r->policy = b->fp;
    r->extra = LOG_NO_EXTRA;
    r->parent = (int32_t)s->open_rec;
    r->depth = e->holding;
    r->status = -1;
    r->has_money = 0;
    if (value_text != NULL || args != NULL ||
        (r->parent < 0 && s->parent_seq != 0)) {
        log_extra *x = extra_of(b, r);
        if (x != NULL) {
            x->parent_seq = r->parent < 0 ? s->parent_seq : 0;
            if (value_text != NULL)
                x->value_text = put_text(b, value_text, strlen(value_text));
            if (args != NULL) x->opts = put_text(b, args, strlen(args));
        }
    }
    s->open_rec = (long)b->n_recs++;
}

long limitr__store_open_row(limitr_engine *e)
{
    return e->store->log ? e->store->open_rec : -1;
}

void limitr__store_origin(limitr_engine *e, long row)
{
    limitr_store *s = e->store;
    s->parent_seq = row >= 0 ? s->origin_base + row + 1 : 0;
}

static void close_rec(limitr_engine *e, limitr_store *s)
{
    log_rec *r = &s->cur->recs[s->open_rec];
    r->reason = put_row_text_memo(s->cur, e->code, strlen(e->code),
                                  &s->cur->last_reason);
    if (r->ts == LOG_TS_UNSET) r->ts = limitr__now(e);
    r->depth = 0;
    s->open_rec = r->parent;
}

void limitr__store_detail(limitr_engine *e, const char *detail)
{
    limitr_store *s = e->store;
    log_rec *r;
    log_extra *x;
    if (!s->log || s->open_rec < 0) return;
    r = &s->cur->recs[s->open_rec];
    if (r->depth == e->holding && (x = extra_of(s->cur, r)) != NULL)
        x->detail = put_text(s->cur, detail, strlen(detail));
}

void limitr__store_money(limitr_engine *e, int64_t now, const char *gate,
                         const char *plan, lnum overage, lnum overage_price,
                         lnum price_diff)
{
    limitr_store *s = e->store;
    log_rec *r;
    log_extra *x;
    if (!s->log || s->open_rec < 0) return;
    r = &s->cur->recs[s->open_rec];
    if (r->depth != e->holding && r->depth != e->holding - 1) return;
    r->ts = now; /* the decision's clock */
    r->gate = gate;
    if (s->cur->plan_name != plan) { /* a policy's name: the same pointer */
        s->cur->plan = put_row_text(s->cur, plan, strlen(plan));
        s->cur->plan_name = plan;
    }
    r->plan = s->cur->plan;
    r->has_money = 1;
    if ((r->extra != LOG_NO_EXTRA || overage != 0 || overage_price != 0 ||
         price_diff != 0) &&
        (x = extra_of(s->cur, r)) != NULL) { /* most rows: all 0, none */
        x->overage = overage;
        x->overage_price = overage_price;
        x->price_diff = price_diff;
    }
}

/* ---- Collecting and writing ---- */

/* Adds text to b when it differs from *last (which it then replaces). */
static size_t meta_changed(batch *b, char **last, textbuf *t)
{
    char *text;
    size_t len;
    if (t->nomem) {
        limitr__tb_free(t);
        b->text.nomem = 1;
        return NOSTR;
    }
    text = limitr__tb_take(t, &len);
    if (text == NULL) return NOSTR;
    if (*last != NULL && strcmp(*last, text) == 0) {
        free(text);
        return NOSTR;
    }
    free(*last);
    *last = text;
    return put_text(b, text, len);
}

static void put_doc(limitr_engine *e, batch *b, customer *c, int always)
{
    size_t at = b->text.n, id, doc;
    uint64_t h;
    row_op *r;
    id = put_text(b, c->id, c->id_len);
    doc = b->text.n;
    if (limitr__put_customer(&b->text, e, c) != 0) {
        b->text.nomem = 1;
        return;
    }
    if (b->text.nomem) return;
    h = limitr__doc_hash(b->text.s + doc, b->text.n - doc);
    if (!always && h == c->stored_hash) { /* unchanged: not written */
        b->text.n = at;
        return;
    }
    limitr__tb_put(&b->text, "", 1);
    if ((r = row_add(b, OP_PUT)) == NULL) return;
    r->id = id;
    r->id_len = c->id_len;
    r->doc = doc;
    r->doc_len = b->text.n - 1 - doc;
    c->stored_hash = h;
}

/* What changed since the last collection, into b (the engine is held). */
static void collect(limitr_engine *e, batch *b)
{
    limitr_store *s = e->store;
    const state_data *d = e->st.d;
    textbuf t = {NULL, 0, 0, 0};
    int64_t now = limitr__now(e);
    size_t i;
    for (i = 0; i < b->n_recs; i++) /* rows of calls still running */
        if (b->recs[i].ts == LOG_TS_UNSET) b->recs[i].ts = now;
    if (s->all) {
        row_add(b, OP_WIPE);
        for (i = 0; i < d->customers.cap; i++) {
            customer *c = limitr__idmap_at(&d->customers, i);
            if (c != NULL) put_doc(e, b, c, 1);
        }
    } else {
        for (i = 0; i < s->n_reached; i++)
            put_doc(e, b, s->reached[i], 0);
    }
    for (i = 0; i < s->n_reached; i++)
        s->reached[i]->reached = 0;
    s->n_reached = 0;
    s->all = 0;

    limitr__tb_puts(&t, "{\"cap\":");
    limitr__tb_int(&t, (int64_t)d->next_cap);
    limitr__tb_puts(&t, ",\"grant\":");
    limitr__tb_int(&t, (int64_t)d->next_grant);
    limitr__tb_puts(&t, ",\"hold\":");
    limitr__tb_int(&t, (int64_t)d->next_hold);
    limitr__tb_puts(&t, "}");
    b->meta_seq = meta_changed(b, &s->last_seq, &t);
    if (limitr__put_estimates(&t, e, &d->estimates) != 0) t.nomem = 1;
    b->meta_estimates = meta_changed(b, &s->last_estimates, &t);
    if (limitr__put_all_units(&t, e) != 0) t.nomem = 1;
    b->meta_units = meta_changed(b, &s->last_units, &t);

    if (strcmp(s->stored_fp, e->policy->fingerprint) != 0) {
        b->policy_fp =
            put_text(b, e->policy->fingerprint, strlen(e->policy->fingerprint));
        b->policy_text = put_text(b, e->policy->text, e->policy->text_len);
        snprintf(s->stored_fp, sizeof s->stored_fp, "%s",
                 e->policy->fingerprint);
    }
    if (s->snapshot_now ||
        (!batch_empty(b) && now - s->last_snapshot >= s->snapshot_ms)) {
        size_t len;
        char *text = limitr__state_export(e, NULL, &len);
        if (text == NULL) {
            b->text.nomem = 1;
        } else {
            b->snapshot = put_text(b, text, len);
            b->snapshot_len = len;
            b->snapshot_ts = now;
            b->snapshot_policy = put_text(b, e->policy->fingerprint,
                                          strlen(e->policy->fingerprint));
            free(text);
        }
        s->last_snapshot = now;
        s->snapshot_now = 0;
    }
}

/* A batch that could not be written: every customer, the policy and the
 * policy-wide parts are written again by the next one (what the failed
 * one held is in memory; in batch mode its log rows are kept: keep_log),
 * and `error` fires on the engine's thread. */
static void write_failed(limitr_store *s, const batch *b, const char *msg)
{
    if (b->snapshot != NOSTR) s->snapshot_now = 1; /* taken again */
    s->all = 1;
    s->failed = 1;
    snprintf(s->fail_msg, sizeof s->fail_msg, "%s", msg);
    /* nor are the policy and the policy-wide parts known to be there */
    s->stored_fp[0] = '\0';
    free(s->last_seq);
    free(s->last_estimates);
    free(s->last_units);
    s->last_seq = s->last_estimates = s->last_units = NULL;
}

/* from's string at off, put into `to` (NOSTR stays NOSTR). */
static size_t copy_text(batch *to, const batch *from, size_t off)
{
    return off == NOSTR
               ? NOSTR
               : put_text(to, from->text.s + off, strlen(from->text.s + off));
}

/* A failed batch write's log rows, kept for the next write (write_mu
 * held; batch mode: a sync call is undone, its row with it). Past
 * STORE_MAX_PENDING_ROWS kept rows, or when memory runs out, the batch's
 * rows are lost (docs/store.md). */
static void keep_log(limitr_store *s, const batch *b)
{
    batch *k = &s->kept_log;
    size_t first = k->n_recs, extras = k->n_extras, text = k->text.n, i;
    if (!s->batch_mode || b->n_recs == 0) return;
    if (first + b->n_recs > STORE_MAX_PENDING_ROWS) return;
    if (k->cap_recs < first + b->n_recs) {
        log_rec *grown = realloc(k->recs, (first + b->n_recs) * sizeof *grown);
        if (grown == NULL) return;
        k->recs = grown;
        k->cap_recs = first + b->n_recs;
    }
    for (i = 0; i < b->n_recs; i++) {
        const log_rec *from = &b->recs[i];
        log_rec *r = &k->recs[first + i];
        uint32_t *strs[] = {&r->id, &r->ent, &r->reason, &r->plan, &r->policy};
        size_t j;
        *r = *from;
        for (j = 0; j < sizeof strs / sizeof *strs; j++)
            if (*strs[j] != LOG_NOSTR)
                *strs[j] = put_row_text(k, b->text.s + *strs[j],
                                        strlen(b->text.s + *strs[j]));
        if (from->extra != LOG_NO_EXTRA) {
            const log_extra *fx = &b->extras[from->extra];
            log_extra *x;
            r->extra = LOG_NO_EXTRA;
            if ((x = extra_of(k, r)) == NULL) break;
            *x = *fx;
            x->value_text = copy_text(k, b, fx->value_text);
            x->opts = copy_text(k, b, fx->opts);
            x->detail = copy_text(k, b, fx->detail);
        }
        if (r->parent >= 0) r->parent += (int32_t)first;
    }
    if (k->text.nomem) { /* as before this batch */
        k->text.nomem = 0;
        k->text.n = text;
        k->n_extras = extras;
        return;
    }
    k->n_recs = first + b->n_recs;
}

/* Writes b, then prunes the log at a snapshot (write_mu held): 0, or -1
 * with the message in err. Only a failed write keeps b's log rows: a
 * failed prune comes after they were committed. */
static int write_and_prune(limitr_store *s, batch *b, int64_t now, char *err,
                           size_t err_len)
{
    if (batch_empty(b)) return 0;
    if (limitr__store_write(s, b, err, err_len) != 0) {
        if (!b->text.nomem) keep_log(s, b); /* else its rows are not whole */
        return -1;
    }
    if (b->snapshot != NOSTR && limitr__store_prune(s, now, err, err_len) != 0)
        return -1;
    return 0;
}

static int write_batch(limitr_store *s, batch *b, int64_t now)
{
    char err[256];
    int status;
    pthread_mutex_lock(&s->write_mu);
    status = write_and_prune(s, b, now, err, sizeof err);
    pthread_mutex_unlock(&s->write_mu);
    if (status != 0) write_failed(s, b, err);
    return status;
}

static void report_failure(limitr_engine *e)
{
    limitr_store *s = e->store;
    char msg[sizeof s->fail_msg];
    s->failed = 0;
    snprintf(msg, sizeof msg, "%s", s->fail_msg);
    limitr__report_error(e, "store", msg);
}

/* Sync: the outermost call's changes, written before it returns. */
/* The rows' hashes on their customers, so that a customer whose text did
 * not change since it was read is not written again (its export is its
 * row: state documents round-trip byte for byte). */
static void hash_rows(limitr_engine *e, limitr_store *s)
{
    sqlite3_stmt *q = limitr__store_rows(&s->db);
    const char *id, *doc;
    size_t id_len, doc_len;
    while (q != NULL &&
           limitr__store_next_row(q, &id, &id_len, &doc, &doc_len)) {
        customer *c =
            limitr__state_find(&e->st, id, id_len, limitr_hash(id, id_len));
        if (c != NULL) c->stored_hash = limitr__doc_hash(doc, doc_len);
    }
    limitr__store_rows_end(q);
}

/* The policy and state as the file holds them, replacing the engine's
 * (those of the last write: in sync mode, the ones before the call whose
 * write failed; a reload goes back to the policy it replaced, silently).
 * The call's own result, reason and message are kept: they may be
 * borrowed by its caller. LIMITR_OK, or the failure (the engine then
 * keeps what it has, and every row is written again by the next write). */
static int state_from_file(limitr_engine *e, limitr_store *s)
{
    char *policy = NULL, *doc = NULL, *now_text = NULL, msg[256];
    size_t len = 0, now_len = e->policy->text_len;
    const char *result;
    call_answer answer;
    int status = LIMITR_OK;
    if (limitr__store_read_state(&s->db, &policy, &doc, &len, msg,
                                 sizeof msg) != 0)
        return LIMITR_STORE;
    limitr__answer_keep(e, &answer);
    e->store = NULL; /* the restore is not a call of the store's */
    if (policy != NULL && (strlen(policy) != now_len ||
                           memcmp(policy, e->policy->text, now_len) != 0)) {
        /* the policy the call replaced; kept to go forward again if the
           state does not import (never the file's state under this one) */
        if ((now_text = malloc(now_len + 1)) == NULL) {
            status = LIMITR_NOMEM;
        } else {
            memcpy(now_text, e->policy->text, now_len + 1);
            status = limitr__reload(e, policy, strlen(policy), "json", NULL, 0);
        }
    }
    if (status == LIMITR_OK) {
        status = limitr__import(e, doc, len, 1, (size_t)-1, &result);
        if (status != LIMITR_OK && now_text != NULL)
            limitr__reload(e, now_text, now_len, "json", NULL, 0);
    }
    e->store = s;
    free(now_text);
    free(policy);
    free(doc);
    limitr__answer_restore(e, &answer);
    if (status == LIMITR_OK) hash_rows(e, s);
    return status;
}

/* A restored store's meta and policy are what the engine holds: collected
 * into a scratch batch that is dropped, so that the first call does not
 * write them again. The engine is what the file holds: no snapshot is
 * owed (a failed write's is of what was undone), and none is taken here. */
static void remember_meta(limitr_engine *e)
{
    batch scratch;
    int64_t last_snapshot = e->store->last_snapshot;
    memset(&scratch, 0, sizeof scratch);
    batch_reset(&scratch);
    e->store->snapshot_now = 0;
    e->store->last_snapshot = limitr__now(e); /* none is due in collect */
    collect(e, &scratch);
    e->store->last_snapshot = last_snapshot;
    batch_free(&scratch);
}

/* A sync write failed: the engine goes back to what the file holds, the
 * policy and state before the call (customers, caps' held room, counters,
 * estimates alike; the whole state is read again, which failures are rare
 * enough to afford). When the file cannot be read, every customer is
 * written by the next write. */
static void undo(limitr_engine *e)
{
    limitr_store *s = e->store;
    if (state_from_file(e, s) == LIMITR_OK) {
        s->all = 0;
        remember_meta(e);
    }
}

static int flush_now(limitr_engine *e)
{
    limitr_store *s = e->store;
    int status;
    collect(e, s->cur);
    status = write_batch(s, s->cur, limitr__now(e));
    if (status != 0 && !s->batch_mode) undo(e);
    batch_reset(s->cur);
    return status;
}

/* ---- Who holds the engine (batch) ----
 *
 * The calling thread holds the engine for each outermost call, and the
 * writer thread takes it between calls to collect. Where the kernel has
 * membarrier(2), the calling thread's side is two plain stores and a load
 * (no atomic read-modify-write on the hot path): it marks itself active,
 * then looks whether the writer wants the engine; the writer, holding `mu`,
 * says it wants it, makes every thread of the process pass a full memory
 * barrier (so the caller either shows as active or sees the wish), and
 * waits until the caller is not active. Elsewhere both sides take `mu`. */

static int membarrier_ready(void)
{
#ifdef __NR_membarrier
    return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                   0, 0) == 0;
#else
    return 0;
#endif
}

static void caller_takes(limitr_store *s)
{
    if (!s->asym) {
        pthread_mutex_lock(&s->mu);
        return;
    }
    atomic_store_explicit(&s->active, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* the writer's barrier */
    if (atomic_load_explicit(&s->wants, memory_order_acquire)) {
        /* the writer is collecting: wait until it is done */
        atomic_store_explicit(&s->active, 0, memory_order_release);
        pthread_mutex_lock(&s->mu);
        atomic_store_explicit(&s->active, 1, memory_order_relaxed);
        pthread_mutex_unlock(&s->mu);
    }
}

static void caller_leaves(limitr_store *s)
{
    if (!s->asym) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    atomic_store_explicit(&s->active, 0, memory_order_release);
}

static void writer_takes(limitr_store *s)
{
    pthread_mutex_lock(&s->mu);
    if (!s->asym) return;
    atomic_store_explicit(&s->wants, 1, memory_order_relaxed);
#ifdef __NR_membarrier
    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
#endif
    while (atomic_load_explicit(&s->active, memory_order_acquire)) {
        struct timespec pause = {0, 20000}; /* a call in progress */
        nanosleep(&pause, NULL);
    }
}

static void writer_leaves(limitr_store *s)
{
    if (s->asym) atomic_store_explicit(&s->wants, 0, memory_order_release);
    pthread_mutex_unlock(&s->mu);
}

/* ---- Calls ---- */

void limitr__store_enter(limitr_engine *e)
{
    if (e->holding == 1 && e->store->batch_mode) caller_takes(e->store);
}

/* Sync, at the end of an outermost call: its changes written, then the
 * events they fired delivered, then what those events' handlers changed
 * written, and so on: every round delivers events one level deeper, so
 * LIMITR_MAX_EVENT_DEPTH bounds the rounds (and a bound of its own the
 * rounds `error` handlers start when a later write fails). 0: the call's
 * own changes are written (a later round that failed was undone and fired
 * `error`: the call's answer stands); -1: the call's own write failed
 * (undone, its events dropped; the caller reports it). */
static int sync_commit(limitr_engine *e)
{
    limitr_store *s = e->store;
    int round;
    for (round = 0;; round++) {
        /* a call that reached nobody and logged nothing (a read of no
           customer, or one whose write came before) has nothing to write */
        int64_t base = s->db.log_seq; /* the held events' rows follow it */
        if ((s->n_reached > 0 || s->all || s->cur->n_rows > 0 ||
             s->cur->n_recs > 0) &&
            flush_now(e) != 0) {
            limitr__drop_held(e);
            if (round == 0) return -1;
            if (round > 2 * LIMITR_MAX_EVENT_DEPTH) return 0;
            report_failure(e); /* its handlers' changes: the next round */
            continue;
        }
        if (e->n_held == 0 || round > 2 * LIMITR_MAX_EVENT_DEPTH) {
            limitr__drop_held(e);
            return 0;
        }
        {
            /* the rows written are gone from the batch: the handlers'
               calls name their parent by its seq (origin) */
            long open = s->open_rec;
            s->open_rec = -1;
            s->origin_base = base;
            limitr__deliver_held(e);
            s->open_rec = open;
        }
    }
}

void limitr__store_leave(limitr_engine *e)
{
    limitr_store *s = e->store;
    if (s->open_rec >= 0 && s->cur->recs[s->open_rec].depth == e->holding)
        close_rec(e, s);
    if (e->holding != 1) return;
    if (!s->batch_mode) {
        /* the `error` handlers' changes are written (or undone) now, not
           by the next call */
        if (sync_commit(e) != 0) {
            report_failure(e);
            if (sync_commit(e) != 0) report_failure(e);
        }
    } else {
        if (s->cur->n_recs >= STORE_MAX_PENDING_ROWS && flush_now(e) != 0)
            s->failed = 1; /* the writer is behind: wait for SQLite */
        /* still holding the engine: the error's handlers are calls nested
           in this one */
        if (s->failed) report_failure(e);
        caller_leaves(s);
    }
}

int limitr__store_result(limitr_engine *e, int status)
{
    limitr_store *s = e->store;
    if (s->batch_mode || e->holding != 1 || sync_commit(e) == 0) return status;
    report_failure(e); /* its handlers' calls are nested: they write nothing */
    return limitr__fail(e, LIMITR_STORE, "store_error", "%s", s->fail_msg);
}

int limitr__store_decision(limitr_engine *e, int status)
{
    limitr_store *s = e->store;
    if (s->log && s->open_rec >= 0 &&
        s->cur->recs[s->open_rec].depth == e->holding) {
        s->cur->recs[s->open_rec].status = status;
        close_rec(e, s);
    }
    return limitr__store_result(e, status);
}

/* ---- The writer thread (batch) ---- */

static void *writer_main(void *arg)
{
    limitr_store *s = arg;
    batch *done;
    int stopping = 0;
    while (!stopping) {
        struct timespec until;
        int64_t now;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->batch_ms / 1000;
        until.tv_nsec += (s->batch_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&s->wake);
        while (!s->stopping &&
               pthread_cond_timedwait(&s->cond, &s->wake, &until) == 0)
            ;
        stopping = s->stopping;
        pthread_mutex_unlock(&s->wake);
        writer_takes(s); /* between the engine's calls */
        collect(s->e, s->cur);
        done = s->cur;
        s->cur = done == &s->bufs[0] ? &s->bufs[1] : &s->bufs[0];
        now = limitr__now(s->e);
        /* the file before the engine goes: a write the caller makes next
           (a checkpoint, a backlog) comes after this older one */
        pthread_mutex_lock(&s->write_mu);
        writer_leaves(s);
        {
            char err[256];
            int failed = write_and_prune(s, done, now, err, sizeof err) != 0;
            if (failed) s->unwritten = 1; /* seen by a checkpoint next */
            pthread_mutex_unlock(&s->write_mu);
            if (failed) {
                writer_takes(s);
                write_failed(s, done, err);
                writer_leaves(s);
            }
        }
        batch_reset(done);
    }
    return NULL;
}

/* ---- Life ---- */

static void store_free(limitr_store *s)
{
    if (s == NULL) return;
    if (s->db.db != NULL) limitr__store_file_close(&s->db);
    if (s->lock_fd >= 0) close(s->lock_fd); /* the OS drops the lock */
    batch_free(&s->bufs[0]);
    batch_free(&s->bufs[1]);
    batch_free(&s->kept_log);
    free(s->reached);
    free(s->last_seq);
    free(s->last_estimates);
    free(s->last_units);
    free(s->path);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->write_mu);
    pthread_mutex_destroy(&s->wake);
    pthread_cond_destroy(&s->cond);
    free(s);
}

static limitr_store *store_new(const char *path, const limitr_store_options *o)
{
    limitr_store *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->lock_fd = -1;
    s->open_rec = -1;
    s->cur = &s->bufs[0];
    batch_reset(&s->bufs[0]);
    batch_reset(&s->bufs[1]);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->write_mu, NULL);
    pthread_mutex_init(&s->wake, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->batch_mode = o->durability == LIMITR_DURABILITY_BATCH;
    s->batch_ms = o->batch_ms > 0 ? o->batch_ms : 50;
    s->snapshot_ms = o->snapshot_ms > 0 ? o->snapshot_ms : 3600000;
    s->log = !o->no_log;
    s->log_max_rows = o->log_max_rows;
    s->log_max_age = o->log_max_age_ms;
    if ((s->path = strdup(path)) == NULL) {
        store_free(s);
        return NULL;
    }
    return s;
}

/* Batch: the writer thread, once the engine's first writes are done. */
static int start_writer(limitr_store *s)
{
    if (!s->batch_mode) return 0;
    s->asym = membarrier_ready();
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) return -1;
    s->writer_running = 1;
    return 0;
}

/* Stops the writer (its last batch written) and writes what is left. */
static int store_stop(limitr_engine *e, char *err, size_t err_len)
{
    limitr_store *s = e->store;
    if (s->writer_running) {
        pthread_mutex_lock(&s->wake);
        s->stopping = 1;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->wake);
        pthread_join(s->writer, NULL);
        s->writer_running = 0;
        s->batch_mode = 0;
    }
    if (flush_now(e) != 0) {
        snprintf(err, err_len, "%s", s->fail_msg);
        s->failed = 0;
        return -1;
    }
    return 0;
}

/* A close that failed leaves the store as it was: a batch store's writer
 * runs again. */
static void store_resume(limitr_store *s, int batch_mode)
{
    s->stopping = 0;
    s->batch_mode = batch_mode;
    if (batch_mode && start_writer(s) != 0) s->batch_mode = 0;
}

static int checkpoint(limitr_engine *e, char *err, size_t err_len)
{
    limitr_store *s = e->store;
    int status;
    int unwritten;
    if (s->batch_mode) pthread_mutex_lock(&s->mu);
    s->snapshot_now = 1;
    collect(e, s->cur);
    status = write_batch(s, s->cur, limitr__now(e));
    batch_reset(s->cur);
    /* a writer's batch that failed before this one: what it held is in
       memory only, and this checkpoint writes it (every row) */
    pthread_mutex_lock(&s->write_mu);
    unwritten = s->unwritten;
    s->unwritten = 0;
    pthread_mutex_unlock(&s->write_mu);
    if (status == 0 && unwritten) {
        s->all = 1;
        s->snapshot_now = 1;
        s->stored_fp[0] = '\0';
        collect(e, s->cur);
        status = write_batch(s, s->cur, limitr__now(e));
        batch_reset(s->cur);
    }
    if (status != 0) {
        snprintf(err, err_len, "%s", s->fail_msg);
        s->failed = 0;
    }
    if (s->batch_mode) pthread_mutex_unlock(&s->mu);
    if (status != 0) return -1;
    pthread_mutex_lock(&s->write_mu);
    status = limitr__store_wal_checkpoint(&s->db, err, err_len);
    pthread_mutex_unlock(&s->write_mu);
    return status;
}

int limitr_checkpoint(limitr_engine *e)
{
    char err[256];
    if (e == NULL) return LIMITR_INVALID;
    if (e->store == NULL)
        return limitr__fail(e, LIMITR_STORE, "no_store", "no store");
    if (e->holding > 0)
        return limitr__fail(e, LIMITR_ERROR, "engine_busy",
                            "checkpoint: not from inside a call");
    if (checkpoint(e, err, sizeof err) != 0)
        return limitr__fail(e, LIMITR_STORE, "store_error", "%s", err);
    return limitr__ok(e);
}

int limitr_close(limitr_engine *e)
{
    char err[256];
    int batch_mode;
    if (e == NULL) return LIMITR_INVALID;
    if (e->store == NULL) return limitr__ok(e);
    if (e->holding > 0)
        return limitr__fail(e, LIMITR_ERROR, "engine_busy",
                            "close: not from inside a call");
    batch_mode = e->store->batch_mode;
    if (checkpoint(e, err, sizeof err) != 0)
        return limitr__fail(e, LIMITR_STORE, "store_error", "%s", err);
    if (store_stop(e, err, sizeof err) != 0) {
        store_resume(e->store, batch_mode);
        return limitr__fail(e, LIMITR_STORE, "store_error", "%s", err);
    }
    store_free(e->store);
    e->store = NULL;
    e->hooked = e->shared != NULL;
    return limitr__ok(e);
}

void limitr__store_free(limitr_engine *e)
{
    char err[256];
    if (e->store == NULL) return;
    if (store_stop(e, err, sizeof err) != 0) {
        /* freeing: what could not be written is lost, as it would be in
           a crash */
    }
    store_free(e->store);
    e->store = NULL;
}

/* ---- Opening ---- */

static void attach(limitr_engine *e, limitr_store *s)
{
    e->store = s;
    s->e = e;
    e->hooked = 1;
    /* sync: a call's events wait for its write (a failed one fires only
       `error`); batch: they cannot wait for a write to come */
    e->hold_events = !s->batch_mode && !e->read_only;
    s->last_snapshot = limitr__now(e);
    snprintf(s->stored_fp, sizeof s->stored_fp, "%s", e->policy->fingerprint);
}

/* The engine of a store that exists: its policy and state as stored. */
static int restore(limitr_store *s, const limitr_options *opts,
                   limitr_engine **out, size_t *customers, char *err,
                   size_t err_len)
{
    char *policy = NULL, *doc = NULL;
    size_t len = 0;
    const char *result;
    int status;
    char msg[256];
    if (limitr__store_read_state(&s->db, &policy, &doc, &len, msg,
                                 sizeof msg) != 0) {
        snprintf(err, err_len, "%s: %s", s->path, msg);
        return LIMITR_STORE;
    }
    status = limitr_new(policy, strlen(policy), "json", opts, out);
    free(policy);
    if (status != LIMITR_OK) {
        snprintf(err, err_len, "%s: store is corrupt: stored policy: %s",
                 s->path, limitr_last_error(*out));
        free(doc);
        return LIMITR_STORE;
    }
    status = limitr__import(*out, doc, len, 1, (size_t)-1, &result);
    free(doc);
    if (status != LIMITR_OK) {
        snprintf(err, err_len, "%s: store is corrupt: stored state: %s",
                 s->path, limitr_last_error(*out));
        return LIMITR_STORE;
    }
    *customers = (*out)->st.d->customers.live;
    hash_rows(*out, s);
    return LIMITR_OK;
}

/* SQLite makes <path>-wal and -shm for any reader of a WAL file; a
 * read-only open that found neither removes them again, unless a writer
 * opened the store meanwhile (it holds the lock and needs them). */
static int exists(const char *path, const char *suffix)
{
    char p[4096];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    return access(p, F_OK) == 0;
}

static void readonly_tidy(const char *path, int had_wal, int had_shm)
{
    char p[4096], err[256];
    int fd;
    if ((had_wal && had_shm) ||
        limitr__store_lock(path, 0, &fd, err, sizeof err))
        return;
    if (!had_wal) {
        snprintf(p, sizeof p, "%s-wal", path);
        unlink(p);
    }
    if (!had_shm) {
        snprintf(p, sizeof p, "%s-shm", path);
        unlink(p);
    }
    close(fd);
}

/* A failed open: the engine returned holds the error only (no policy),
 * as a failed limitr_new's does. */
static int open_failed(limitr_engine **out, const limitr_options *opts,
                       limitr_store *s, int status, const char *err)
{
    store_free(s);
    limitr_free(*out); /* with its store, when it had one */
    *out = NULL;
    limitr_new(NULL, 0, NULL, opts, out);
    if (*out == NULL) return LIMITR_NOMEM;
    return limitr__fail(
        *out, status, status == LIMITR_STORE ? "store_error" : NULL, "%s", err);
}

int limitr_open(const char *policy, size_t len, const char *format,
                const limitr_options *opts, const limitr_store_options *so,
                limitr_engine **out, const char **info_json)
{
    limitr_store *s;
    char err[512];
    int created = 0, status, changed = 0, had_wal, had_shm;
    size_t customers = 0;
    cJSON *info, *warnings = NULL;
    if (out == NULL) return LIMITR_INVALID;
    *out = NULL;
    if (info_json != NULL) *info_json = NULL;
    if (so == NULL || so->path == NULL || so->path[0] == '\0') {
        status = limitr_new(policy, len, format, opts, out);
        if (status != LIMITR_OK || policy != NULL) return status;
        return limitr__fail(*out, LIMITR_INVALID, NULL,
                            "open: a policy or a store is needed");
    }
    if (so->batch_ms < 0 || so->batch_ms > 60000) {
        snprintf(err, sizeof err, "open: batch_ms must be 1 to 60000 (got %ld)",
                 so->batch_ms);
        return open_failed(out, opts, NULL, LIMITR_INVALID, err);
    }
    if ((s = store_new(so->path, so)) == NULL)
        return open_failed(out, opts, NULL, LIMITR_NOMEM, "out of memory");
    if (!so->readonly &&
        limitr__store_lock(so->path, 1, &s->lock_fd, err, sizeof err) != 0)
        return open_failed(out, opts, s, LIMITR_STORE, err);
    had_wal = exists(so->path, "-wal");
    had_shm = exists(so->path, "-shm");
    if (limitr__store_file_open(so->path, so->readonly, policy != NULL,
                                &created, &s->db, err, sizeof err) != 0) {
        status = open_failed(out, opts, s, LIMITR_STORE, err);
        if (so->readonly) readonly_tidy(so->path, had_wal, had_shm);
        return status;
    }
    if (created) {
        status = limitr_new(policy, len, format, opts, out);
        if (status != LIMITR_OK) {
            /* the policy's own errors, and no store left behind */
            limitr__store_file_close(&s->db);
            unlink(so->path);
            store_free(s);
            return status;
        }
        attach(*out, s);
        s->all = 1;
        s->snapshot_now = 1;
        s->stored_fp[0] = '\0'; /* the policy is written */
        if (flush_now(*out) != 0) {
            snprintf(err, sizeof err, "%s", s->fail_msg);
            open_failed(out, opts, NULL, LIMITR_STORE, err);
            unlink(so->path);
            return LIMITR_STORE;
        }
        if (start_writer(s) != 0)
            return open_failed(out, opts, NULL, LIMITR_NOMEM,
                               "open: cannot start the writer thread");
    } else {
        status = restore(s, opts, out, &customers, err, sizeof err);
        if (status != LIMITR_OK) {
            status = open_failed(out, opts, s, status, err);
            if (so->readonly) readonly_tidy(so->path, had_wal, had_shm);
            return status;
        }
        if (so->readonly) {
            store_free(s); /* the state committed at open is loaded */
            readonly_tidy(so->path, had_wal, had_shm);
            (*out)->read_only = 1;
        } else {
            attach(*out, s);
            remember_meta(*out);
            if (start_writer(s) != 0)
                return open_failed(out, opts, NULL, LIMITR_NOMEM,
                                   "open: cannot start the writer thread");
            if (policy != NULL) {
                limitr_engine *probe = NULL;
                /* the policy given is compiled once to compare it */
                status = limitr_new(policy, len, format, opts, &probe);
                if (status != LIMITR_OK) {
                    snprintf(err, sizeof err, "%s", limitr_last_error(probe));
                    limitr_free(probe);
                    return open_failed(out, opts, NULL, status, err);
                }
                changed = strcmp(probe->policy->fingerprint,
                                 (*out)->policy->fingerprint) != 0;
                limitr_free(probe);
            }
            if (changed) {
                const char *result = NULL;
                status = limitr_reload(*out, policy, len, format, &result);
                if (status != LIMITR_OK) {
                    snprintf(err, sizeof err, "%s", limitr_last_error(*out));
                    return open_failed(out, opts, NULL, status, err);
                }
                if (result != NULL) {
                    cJSON *r = cJSON_Parse(result);
                    if (r != NULL) {
                        warnings = cJSON_DetachItemFromObject(r, "warnings");
                        cJSON_Delete(r);
                    }
                }
            }
        }
    }
    info = cJSON_CreateObject();
    if (info == NULL) {
        cJSON_Delete(warnings);
        return limitr__ok(*out);
    }
    cJSON_AddBoolToObject(info, "created", created);
    cJSON_AddNumberToObject(info, "customers", (double)customers);
    cJSON_AddBoolToObject(info, "policy_changed", changed);
    cJSON_AddItemToObject(info, "warnings",
                          warnings != NULL ? warnings : cJSON_CreateArray());
    if (limitr__set_result(*out, info, info_json) != LIMITR_OK)
        return limitr__ok(*out);
    return LIMITR_OK;
}
