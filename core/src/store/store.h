/* store.h: what the store's files share (store.c: the engine's side, calls
 * and batches; store_file.c: the SQLite file, its checks, lock and
 * schema). The public face is limitr_open, limitr_checkpoint and
 * limitr_close (limitr.h); docs/store.md says what is kept and when. */
#ifndef LIMITR_STORE_H
#define LIMITR_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "num.h"
#include "textbuf.h"

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;

#define STORE_APPLICATION_ID 0x4C4D5452 /* "LMTR" */
#define STORE_FORMAT 1                  /* PRAGMA user_version */
#define NOSTR ((size_t)-1)              /* an absent string of an arena */
#define LOG_TS_UNSET INT64_MIN          /* a log row's time not read yet */

/* A row of the decision log (store.md), kept until it is written. The
 * calling thread writes one per call, into memory the writer thread read
 * last: every cache line it takes counts, so a row is kept small (72
 * bytes): its strings are 32-bit offsets into the batch's text (LOG_NOSTR:
 * none), and what few rows carry (a parent written earlier, a value as
 * text, options, a detail, money) lives in the batch's extras. */
#define LOG_NOSTR UINT32_MAX
#define LOG_NO_EXTRA UINT32_MAX
typedef struct log_rec {
    int64_t ts;       /* LOG_TS_UNSET until the decision or the end says */
    double value;     /* when has_value */
    const char *op;   /* static */
    const char *gate; /* static, or NULL */
    uint32_t id, ent, reason, plan, policy;
    uint32_t extra; /* its index in the batch's extras, or LOG_NO_EXTRA */
    int32_t parent; /* the enclosing call's row in this batch, or -1 */
    int32_t depth;  /* the call level it started at; 0 once it ended */
    int16_t status; /* LIMITR_OK, _DENIED, ...; -1 not known */
    uint8_t has_value, has_money;
} log_rec;

/* What few log rows carry. */
typedef struct log_extra {
    int64_t parent_seq; /* the written row of the call whose held event's
                           handler made this call, or 0 */
    size_t value_text, opts, detail; /* NOSTR: none */
    lnum overage, overage_price, price_diff;
} log_extra;

/* A row's string offset as the batch's text reads it. */
static inline size_t log_str(uint32_t off)
{
    return off == LOG_NOSTR ? NOSTR : (size_t)off;
}

/* One write to the customers table, in call order. */
enum { OP_PUT, OP_DELETE, OP_WIPE };
typedef struct row_op {
    int kind;
    size_t id, id_len, doc, doc_len;
} row_op;

/* The last copy of a repeated log string in a batch's text. */
typedef struct text_memo {
    uint32_t at; /* LOG_NOSTR: none yet */
    size_t len;
} text_memo;

/* What one transaction writes. Its strings live in `text` (reused from
 * one batch to the next), by offset: it grows as it is filled. */
typedef struct batch {
    textbuf text;
    row_op *rows;
    size_t n_rows, cap_rows;
    log_rec *recs;
    size_t n_recs, cap_recs;
    log_extra *extras;
    size_t n_extras, cap_extras;
    size_t meta_seq, meta_estimates, meta_units;    /* NOSTR: unchanged */
    size_t policy_fp, policy_text;                  /* NOSTR: unchanged */
    size_t snapshot, snapshot_len, snapshot_policy; /* NOSTR: none */
    int64_t snapshot_ts;
    /* the fingerprint of the policy its rows ran under, and the last plan
       name they named, each put once while the policy stays */
    const void *fp_policy;
    uint32_t fp;
    const char *plan_name;
    uint32_t plan;
    text_memo last_id, last_ent, last_reason;
} batch;

/* The most log rows a batch store keeps waiting: past it, the calling
 * thread writes them itself (SQLite takes rows slower than the engine
 * makes them: this bounds the memory and the loss of a crash). */
#define STORE_MAX_PENDING_ROWS 65536
/* a row names its parent row by an int32_t index */
_Static_assert(STORE_MAX_PENDING_ROWS < INT32_MAX / 2, "log row indexes");

typedef struct limitr_store limitr_store;

/* The SQLite side (store_file.c). */
typedef struct store_db {
    sqlite3 *db;
    sqlite3_stmt *put, *del, *meta, *log, *policy;
    int64_t log_seq; /* the last row's */
} store_db;

struct limitr_store {
    char *path;
    int lock_fd; /* -1: none (read-only) */
    int batch_mode;
    long batch_ms, snapshot_ms;
    int log;
    long log_max_rows;
    int64_t log_max_age;
    store_db db;

    batch bufs[2];
    batch *cur; /* what calls fill */
    customer **reached;
    size_t n_reached, cap_reached;
    int all;            /* every customer changed */
    char stored_fp[72]; /* the policy the file holds */
    char *last_seq, *last_estimates, *last_units;
    int64_t last_snapshot; /* engine time */
    int snapshot_now;      /* at the next write */
    long open_rec;         /* the innermost logged call's row, or -1 */
    int64_t origin_base;   /* sync: the log's seq before the last write */
    int64_t parent_seq;    /* sync: the row of the call whose held event is
                              being delivered (limitr__store_origin), or 0 */
    int failed;            /* a batch failed: `error` fires at next call */
    int unwritten;         /* (write_mu) the writer's last batch failed */
    batch kept_log;        /* (write_mu) the log rows of failed batch
                              writes, written first by the next write */
    char fail_msg[256];

    /* batch durability: the writer thread */
    pthread_t writer;
    int writer_running, stopping;
    pthread_mutex_t mu;       /* the engine: held by each outermost call, or
                                 (asym) by the writer while it collects */
    int asym;                 /* membarrier(2): the caller takes no mutex */
    atomic_int active;        /* asym: the caller is in a call */
    atomic_int wants;         /* asym: the writer waits to collect */
    pthread_mutex_t write_mu; /* the file: one batch written at a time */
    pthread_mutex_t wake;     /* with cond: the writer's sleep */
    pthread_cond_t cond;
    limitr_engine *e;
};

/* ---- store_file.c ---- */

/* Checks path and opens it (created when missing or empty, unless
   readonly): 0, or -1 with the message in err. */
int limitr__store_file_open(const char *path, int readonly, int may_create,
                            int *created, store_db *db, char *err,
                            size_t err_len);
/* The writer's lock on <path>-lock (write_pid: the pid written into it,
   for the messages of other writers): 0, or -1 with the message. */
int limitr__store_lock(const char *path, int write_pid, int *fd, char *err,
                       size_t err_len);
void limitr__store_file_close(store_db *db);
/* The policy text and fingerprint the store holds (malloc'ed), its
   estimates, seq and units; the customers as one state document. -1 with
   err. */
int limitr__store_read_state(store_db *db, char **policy_text, char **state_doc,
                             size_t *state_len, char *err, size_t err_len);
/* Every customer row: limitr__store_rows (NULL: cannot be read), then
   next_row until 0 (id and doc borrowed until the next), then end. */
sqlite3_stmt *limitr__store_rows(store_db *db);
int limitr__store_next_row(sqlite3_stmt *q, const char **id, size_t *id_len,
                           const char **doc, size_t *doc_len);
void limitr__store_rows_end(sqlite3_stmt *q);
/* Writes b in one transaction: 0, or -1 with err. */
int limitr__store_write(limitr_store *s, batch *b, char *err, size_t err_len);
/* Retention: drops log rows and snapshots past the limits. */
int limitr__store_prune(limitr_store *s, int64_t now, char *err,
                        size_t err_len);
int limitr__store_wal_checkpoint(store_db *db, char *err, size_t err_len);
/* The stored hash of a customer document (FNV-1a, 64 bits). */
uint64_t limitr__doc_hash(const char *s, size_t len);

#endif
