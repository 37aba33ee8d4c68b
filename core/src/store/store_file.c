/* store_file.c: the store's SQLite file (docs/store.md): checked before
 * anything is written to it, its writer lock, its schema, reading the
 * state back and writing batches of changes. */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "textbuf.h"

static const char schema[] =
    "PRAGMA application_id = 1280136274;" /* STORE_APPLICATION_ID */
    "PRAGMA user_version = 1;"            /* STORE_FORMAT */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE policies(fingerprint TEXT PRIMARY KEY, text TEXT NOT NULL);"
    "CREATE TABLE customers(id TEXT PRIMARY KEY, doc TEXT NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE snapshots(id INTEGER PRIMARY KEY, ts INTEGER, log_seq "
    "INTEGER, policy TEXT, state TEXT);"
    "CREATE TABLE log(seq INTEGER PRIMARY KEY, ts INTEGER, op TEXT, customer "
    "TEXT, entitlement TEXT, value, opts TEXT, result TEXT, reason TEXT, gate "
    "TEXT, plan TEXT, overage TEXT, overage_price TEXT, price_diff TEXT, "
    "detail TEXT, policy TEXT, parent INTEGER, lossy INTEGER);";

uint64_t limitr__doc_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    size_t i;
    for (i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static int failf(char *err, size_t len, const char *path, const char *what)
{
    snprintf(err, len, "%s: %s", path, what);
    return -1;
}

static int has_wal(const char *path)
{
    char wal[4096];
    struct stat st;
    snprintf(wal, sizeof wal, "%s-wal", path);
    return stat(wal, &st) == 0 && st.st_size > 0;
}

/* What the first 100 bytes say of an existing file, before SQLite opens
 * it: not SQLite, not limitr's, newer, or cut short. */
static int check_header(const char *path, off_t size, char *err, size_t len)
{
    unsigned char h[100];
    char msg[160];
    FILE *f = fopen(path, "rb");
    size_t n;
    uint32_t page, pages;
    if (f == NULL) {
        snprintf(msg, sizeof msg, "cannot read: %s", strerror(errno));
        return failf(err, len, path, msg);
    }
    n = fread(h, 1, sizeof h, f);
    fclose(f);
    if (n < sizeof h || memcmp(h, "SQLite format 3", 16) != 0)
        return failf(err, len, path, "not a SQLite database");
    if (be32(h + 68) != STORE_APPLICATION_ID) {
        snprintf(msg, sizeof msg, "not a limitr store (application_id %lu)",
                 (unsigned long)be32(h + 68));
        return failf(err, len, path, msg);
    }
    if (be32(h + 60) > STORE_FORMAT) {
        snprintf(msg, sizeof msg, "store format %lu is newer than this limitr",
                 (unsigned long)be32(h + 60));
        return failf(err, len, path, msg);
    }
    /* the page count in the header is valid when its change counter
       matches the one at offset 92; with a WAL to recover from, a
       checkpoint cut short leaves the file shorter than it says, and the
       WAL makes it whole */
    page = (uint32_t)h[16] << 8 | h[17];
    if (page == 1) page = 65536;
    pages = be32(h + 28);
    if (be32(h + 92) == be32(h + 24) && !has_wal(path) &&
        (uint64_t)size < (uint64_t)page * pages) {
        snprintf(msg, sizeof msg,
                 "store is corrupt: the file is truncated (%lld of %llu "
                 "bytes)",
                 (long long)size, (unsigned long long)page * pages);
        return failf(err, len, path, msg);
    }
    return 0;
}

static int sql_fail(sqlite3 *db, const char *path, char *err, size_t len)
{
    snprintf(err, len, "%s: %s", path,
             db != NULL ? sqlite3_errmsg(db) : "out of memory");
    return -1;
}

static int quick_check(sqlite3 *db, const char *path, char *err, size_t len)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL), ok;
    char msg[200];
    if (rc != SQLITE_OK) {
        snprintf(msg, sizeof msg, "store is corrupt: %s", sqlite3_errmsg(db));
        return failf(err, len, path, msg);
    }
    rc = sqlite3_step(st);
    ok = rc == SQLITE_ROW &&
         strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
    if (!ok)
        snprintf(msg, sizeof msg, "store is corrupt: %s",
                 rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0)
                                  : sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return ok ? 0 : failf(err, len, path, msg);
}

static int prepare(store_db *db, const char *path, char *err, size_t len)
{
    static const char *const sql[] = {
        "INSERT OR REPLACE INTO customers(id, doc) VALUES(?1, ?2)",
        "DELETE FROM customers WHERE id = ?1",
        "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
        /* one string (parenthesised: clang's -Wstring-concatenation) */
        ("INSERT INTO log VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
         "?12, ?13, ?14, ?15, ?16, ?17, ?18)"),
        "INSERT OR IGNORE INTO policies(fingerprint, text) VALUES(?1, ?2)"};
    sqlite3_stmt **out[] = {&db->put, &db->del, &db->meta, &db->log,
                            &db->policy};
    size_t i;
    for (i = 0; i < sizeof sql / sizeof *sql; i++)
        if (sqlite3_prepare_v3(db->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               out[i], NULL) != SQLITE_OK)
            return sql_fail(db->db, path, err, len);
    return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Whether the store holds nothing but its tables (killed between its
 * schema and its first write): no policy, no customer, no log row. */
static int unfinished(sqlite3 *db)
{
    sqlite3_stmt *q;
    int empty = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) FROM meta WHERE key = "
                           "'policy') + (SELECT count(*) FROM customers) + "
                           "(SELECT count(*) FROM log)",
                           -1, &q, NULL) != SQLITE_OK)
        return 0; /* the read of the state says what is wrong */
    empty = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) == 0;
    sqlite3_finalize(q);
    return empty;
}

int limitr__store_file_open(const char *path, int readonly, int may_create,
                            int *created, store_db *db, char *err,
                            size_t err_len)
{
    struct stat st;
    int flags, fresh;
    sqlite3_stmt *q;
    memset(db, 0, sizeof *db);
    *created = 0;
    if (stat(path, &st) != 0 && errno != ENOENT) {
        char msg[160];
        snprintf(msg, sizeof msg, "cannot read: %s", strerror(errno));
        return failf(err, err_len, path, msg);
    }
    fresh = stat(path, &st) != 0 || st.st_size == 0;
    if (fresh && readonly) return failf(err, err_len, path, "no such store");
    if (fresh && !may_create)
        return failf(err, err_len, path, "a new store needs a policy");
    if (!fresh && check_header(path, st.st_size, err, err_len) != 0) return -1;
    flags = readonly ? SQLITE_OPEN_READONLY
                     : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &db->db, flags | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        sql_fail(db->db, path, err, err_len);
        limitr__store_file_close(db);
        return -1;
    }
    sqlite3_extended_result_codes(db->db, 1);
    sqlite3_busy_timeout(db->db, 5000);
    if (!fresh && quick_check(db->db, path, err, err_len) != 0) {
        limitr__store_file_close(db);
        return -1;
    }
    /* the schema is written before WAL mode, so that the file's own header
       carries the application_id and format from the start */
    if (!readonly && ((fresh && exec(db->db, schema) != 0) ||
                      exec(db->db, "PRAGMA journal_mode = WAL") != 0 ||
                      exec(db->db, "PRAGMA synchronous = FULL") != 0 ||
                      prepare(db, path, err, err_len) != 0)) {
        if (db->put == NULL) sql_fail(db->db, path, err, err_len);
        limitr__store_file_close(db);
        if (fresh) unlink(path);
        return -1;
    }
    if (fresh && !readonly) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO meta VALUES('created', %lld)",
                 (long long)time(NULL) * 1000);
        if (exec(db->db, sql) != 0) {
            sql_fail(db->db, path, err, err_len);
            limitr__store_file_close(db);
            unlink(path);
            return -1;
        }
    }
    /* a store killed between its schema and its first write holds no
       policy yet: a writer with a policy makes it anew */
    if (!fresh && unfinished(db->db)) {
        if (readonly || !may_create) {
            limitr__store_file_close(db);
            return failf(err, err_len, path,
                         readonly ? "store is corrupt: no policy in meta"
                                  : "a new store needs a policy");
        }
        fresh = 1;
    }
    *created = fresh;
    if (sqlite3_prepare_v2(db->db, "SELECT coalesce(max(seq), 0) FROM log", -1,
                           &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        db->log_seq = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return 0;
}

void limitr__store_file_close(store_db *db)
{
    sqlite3_finalize(db->put);
    sqlite3_finalize(db->del);
    sqlite3_finalize(db->meta);
    sqlite3_finalize(db->log);
    sqlite3_finalize(db->policy);
    sqlite3_close(db->db);
    memset(db, 0, sizeof *db);
}

int limitr__store_lock(const char *path, int write_pid, int *fd_out, char *err,
                       size_t len)
{
    size_t n = strlen(path) + 6;
    char *lock_path = malloc(n), pid[32], msg[200];
    struct flock fl;
    int fd;
    ssize_t got;
    if (lock_path == NULL) return failf(err, len, path, "out of memory");
    snprintf(lock_path, n, "%s-lock", path);
    fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(lock_path);
    if (fd < 0) {
        snprintf(msg, sizeof msg, "cannot open its lock file: %s",
                 strerror(errno));
        return failf(err, len, path, msg);
    }
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        /* the holder wrote its pid into the file when it took the lock */
        got = pread(fd, pid, sizeof pid - 1, 0);
        pid[got > 0 ? got : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        snprintf(msg, sizeof msg, "open for writing by another engine (pid %s)",
                 pid[0] != '\0' ? pid : "unknown");
        return failf(err, len, path, msg);
    }
    n = (size_t)snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (write_pid &&
        (ftruncate(fd, 0) != 0 || pwrite(fd, pid, n, 0) != (ssize_t)n)) {
        /* the lock holds; only the pid in messages is missing */
    }
    *fd_out = fd;
    return 0;
}

/* ---- Reading the state back ---- */

static char *meta_value(sqlite3 *db, const char *key)
{
    sqlite3_stmt *q;
    char *v = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &q,
                           NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0) != NULL)
        v = strdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    return v;
}

int limitr__store_read_state(store_db *db, char **policy_text, char **state_doc,
                             size_t *state_len, char *err, size_t err_len)
{
    char *fp = meta_value(db->db, "policy");
    char *seq = meta_value(db->db, "seq");
    char *est = meta_value(db->db, "estimates");
    char *units = meta_value(db->db, "units");
    sqlite3_stmt *q = NULL;
    textbuf b = {NULL, 0, 0, 0};
    int rc, first = 1, status = -1;
    *policy_text = *state_doc = NULL;
    if (fp == NULL) {
        snprintf(err, err_len, "store is corrupt: no policy in meta");
        goto done;
    }
    if (sqlite3_prepare_v2(db->db,
                           "SELECT text FROM policies WHERE fingerprint = ?1",
                           -1, &q, NULL) != SQLITE_OK)
        goto sql;
    sqlite3_bind_text(q, 1, fp, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_ROW || sqlite3_column_text(q, 0) == NULL) {
        snprintf(err, err_len, "store is corrupt: policy %.80s is missing", fp);
        goto done;
    }
    *policy_text = strdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    q = NULL;
    limitr__tb_puts(&b, "{\"limitr_state\":1,\"policy\":");
    limitr__tb_string(&b, fp, strlen(fp));
    limitr__tb_puts(&b, ",\"now\":0,\"units\":");
    limitr__tb_puts(&b, units != NULL ? units : "{}");
    limitr__tb_puts(&b, ",\"seq\":");
    limitr__tb_puts(&b, seq != NULL ? seq : "{}");
    limitr__tb_puts(&b, ",\"estimates\":");
    limitr__tb_puts(&b, est != NULL ? est : "{}");
    limitr__tb_puts(&b, ",\"customers\":[");
    if (sqlite3_prepare_v2(db->db, "SELECT doc FROM customers", -1, &q, NULL) !=
        SQLITE_OK)
        goto sql;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (!first) limitr__tb_put(&b, ",", 1);
        first = 0;
        limitr__tb_put(&b, (const char *)sqlite3_column_text(q, 0),
                       (size_t)sqlite3_column_bytes(q, 0));
    }
    if (rc != SQLITE_DONE) goto sql;
    limitr__tb_puts(&b, "]}");
    if (*policy_text == NULL ||
        (*state_doc = limitr__tb_take(&b, state_len)) == NULL) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    status = 0;
    goto done;
sql:
    snprintf(err, err_len, "store is corrupt: %s", sqlite3_errmsg(db->db));
done:
    if (status != 0) {
        free(*policy_text);
        *policy_text = NULL;
        limitr__tb_free(&b);
    }
    sqlite3_finalize(q);
    free(fp);
    free(seq);
    free(est);
    free(units);
    return status;
}

sqlite3_stmt *limitr__store_rows(store_db *db)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db->db, "SELECT id, doc FROM customers", -1, &q,
                           NULL) != SQLITE_OK)
        return NULL;
    return q;
}

int limitr__store_next_row(sqlite3_stmt *q, const char **id, size_t *id_len,
                           const char **doc, size_t *doc_len)
{
    if (sqlite3_step(q) != SQLITE_ROW) return 0;
    *id = (const char *)sqlite3_column_text(q, 0);
    *id_len = (size_t)sqlite3_column_bytes(q, 0);
    *doc = (const char *)sqlite3_column_text(q, 1);
    *doc_len = (size_t)sqlite3_column_bytes(q, 1);
    return *id != NULL && *doc != NULL;
}

void limitr__store_rows_end(sqlite3_stmt *q)
{
    sqlite3_finalize(q);
}

/* ---- Writing a batch ---- */

static const char *str_at(const batch *b, size_t off)
{
    return off == NOSTR ? NULL : b->text.s + off;
}

static void bind_str(sqlite3_stmt *st, int i, const batch *b, size_t off)
{
    if (off == NOSTR)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, b->text.s + off, -1, SQLITE_STATIC);
}

static void bind_lnum(sqlite3_stmt *st, int i, int has, lnum v)
{
    char buf[64];
    if (!has)
        sqlite3_bind_null(st, i);
    else if (v == 0) /* most rows: no 128-bit division to write it */
        sqlite3_bind_text(st, i, "0", 1, SQLITE_STATIC);
    else
        sqlite3_bind_text(st, i, limitr__lnum_format(v, buf), -1,
                          SQLITE_TRANSIENT);
}

static const char *result_of(const batch *b, const log_rec *r)
{
    const char *reason = str_at(b, log_str(r->reason));
    if (r->status == LIMITR_OK) return "allowed";
    if (r->status == LIMITR_DENIED) return "denied";
    if (r->status < 0) /* a method: its reason code says */
        return reason == NULL || reason[0] == '\0' ? "ok" : "error";
    return "error";
}

static int step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int write_log(store_db *db, const batch *b, int64_t base)
{
    static const log_extra none = {0, NOSTR, NOSTR, NOSTR, 0, 0, 0};
    size_t i;
    for (i = 0; i < b->n_recs; i++) {
        const log_rec *r = &b->recs[i];
        const log_extra *x =
            r->extra == LOG_NO_EXTRA ? &none : &b->extras[r->extra];
        sqlite3_stmt *st = db->log;
        const char *reason = str_at(b, log_str(r->reason));
        sqlite3_bind_int64(st, 1, base + (int64_t)i + 1);
        sqlite3_bind_int64(st, 2, r->ts);
        sqlite3_bind_text(st, 3, r->op, -1, SQLITE_STATIC);
        bind_str(st, 4, b, log_str(r->id));
        bind_str(st, 5, b, log_str(r->ent));
        if (r->has_value)
            sqlite3_bind_double(st, 6, r->value);
        else
            bind_str(st, 6, b, x->value_text);
        bind_str(st, 7, b, x->opts);
        sqlite3_bind_text(st, 8, result_of(b, r), -1, SQLITE_STATIC);
        if (reason != NULL && reason[0] != '\0')
            sqlite3_bind_text(st, 9, reason, -1, SQLITE_STATIC);
        if (r->gate != NULL)
            sqlite3_bind_text(st, 10, r->gate, -1, SQLITE_STATIC);
        bind_str(st, 11, b, log_str(r->plan));
        bind_lnum(st, 12, r->has_money, x->overage);
        bind_lnum(st, 13, r->has_money && x->overage_price != 0,
                  x->overage_price);
        bind_lnum(st, 14, r->has_money && x->price_diff != 0, x->price_diff);
        bind_str(st, 15, b, x->detail);
        bind_str(st, 16, b, log_str(r->policy));
        if (r->parent >= 0)
            sqlite3_bind_int64(st, 17, base + r->parent + 1);
        else if (x->parent_seq > 0)
            sqlite3_bind_int64(st, 17, x->parent_seq);
        sqlite3_bind_int(st, 18, 0);
        if (step(st) != 0) return -1;
    }
    return 0;
}

static int put_meta(store_db *db, const char *key, const batch *b, size_t off)
{
    if (off == NOSTR) return 0;
    sqlite3_bind_text(db->meta, 1, key, -1, SQLITE_STATIC);
    bind_str(db->meta, 2, b, off);
    return step(db->meta);
}

int limitr__store_write(limitr_store *s, batch *b, char *err, size_t err_len)
{
    store_db *db = &s->db;
    size_t i;
    int64_t base = db->log_seq;
    if (b->text.nomem) {
        snprintf(err, err_len, "%s: out of memory collecting changes", s->path);
        return -1;
    }
    if (exec(db->db, "BEGIN IMMEDIATE") != 0)
        return sql_fail(db->db, s->path, err, err_len);
    for (i = 0; i < b->n_rows; i++) {
        const row_op *r = &b->rows[i];
        if (r->kind == OP_WIPE) {
            if (exec(db->db, "DELETE FROM customers") != 0) goto fail;
            continue;
        }
        sqlite3_stmt *st = r->kind == OP_PUT ? db->put : db->del;
        sqlite3_bind_text(st, 1, b->text.s + r->id, (int)r->id_len,
                          SQLITE_STATIC);
        if (r->kind == OP_PUT)
            sqlite3_bind_text(st, 2, b->text.s + r->doc, (int)r->doc_len,
                              SQLITE_STATIC);
        if (step(st) != 0) goto fail;
    }
    if (b->policy_fp != NOSTR) {
        bind_str(db->policy, 1, b, b->policy_fp);
        bind_str(db->policy, 2, b, b->policy_text);
        if (step(db->policy) != 0 || put_meta(db, "policy", b, b->policy_fp))
            goto fail;
    }
    if (put_meta(db, "seq", b, b->meta_seq) != 0 ||
        put_meta(db, "estimates", b, b->meta_estimates) != 0 ||
        put_meta(db, "units", b, b->meta_units) != 0)
        goto fail;
    if (s->log && (write_log(db, &s->kept_log, base) != 0 ||
                   write_log(db, b, base + (int64_t)s->kept_log.n_recs) != 0))
        goto fail;
    if (s->log) db->log_seq = base + (int64_t)(s->kept_log.n_recs + b->n_recs);
    if (b->snapshot != NOSTR) {
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db->db,
                               "INSERT INTO snapshots(ts, log_seq, policy, "
                               "state) VALUES(?1, ?2, ?3, ?4)",
                               -1, &q, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_int64(q, 1, b->snapshot_ts);
        sqlite3_bind_int64(q, 2, db->log_seq);
        bind_str(q, 3, b, b->snapshot_policy);
        sqlite3_bind_text(q, 4, b->text.s + b->snapshot, (int)b->snapshot_len,
                          SQLITE_STATIC);
        if (step(q) != 0) {
            sqlite3_finalize(q);
            goto fail;
        }
        sqlite3_finalize(q);
    }
    if (exec(db->db, "COMMIT") != 0) goto fail;
    s->kept_log.n_recs = 0; /* written */
    s->kept_log.n_extras = 0;
    s->kept_log.text.n = 0;
    return 0;
fail:
    sql_fail(db->db, s->path, err, err_len);
    exec(db->db, "ROLLBACK");
    db->log_seq = base;
    return -1;
}

int limitr__store_prune(limitr_store *s, int64_t now, char *err, size_t err_len)
{
    sqlite3 *db = s->db.db;
    char sql[256];
    if (s->log_max_rows > 0) {
        snprintf(sql, sizeof sql, "DELETE FROM log WHERE seq <= %lld",
                 (long long)(s->db.log_seq - s->log_max_rows));
        if (exec(db, sql) != 0) return sql_fail(db, s->path, err, err_len);
    }
    if (s->log_max_age > 0) {
        snprintf(sql, sizeof sql, "DELETE FROM log WHERE ts < %lld",
                 (long long)(now - s->log_max_age));
        if (exec(db, sql) != 0) return sql_fail(db, s->path, err, err_len);
    }
    /* a snapshot is there to replay the rows after it: one whose next row
       is gone goes too (all but the newest without a log), the newest
       always stays */
    if (!s->log) {
        if (exec(db, "DELETE FROM snapshots WHERE id < (SELECT max(id) FROM "
                     "snapshots)") != 0)
            return sql_fail(db, s->path, err, err_len);
        return 0;
    }
    snprintf(sql, sizeof sql,
             "DELETE FROM snapshots WHERE id < (SELECT max(id) FROM "
             "snapshots) AND log_seq + 1 < (SELECT coalesce(min(seq), %lld) "
             "FROM log)",
             (long long)(s->db.log_seq + 1));
    if (exec(db, sql) != 0) return sql_fail(db, s->path, err, err_len);
    return 0;
}

int limitr__store_wal_checkpoint(store_db *db, char *err, size_t err_len)
{
    if (sqlite3_wal_checkpoint_v2(db->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
                                  NULL, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "%s", sqlite3_errmsg(db->db));
        return -1;
    }
    return 0;
}
