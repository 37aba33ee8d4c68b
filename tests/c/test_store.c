/* test_store.c: the durable store from C (docs/store.md):
 * limitr_open creating and reopening a store with usage kept, a changed
 * policy applied on reopen, one writer per store, a file that is not a
 * database refused untouched, limitr_checkpoint without a store and
 * limitr_close twice. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "engine_of.h"
#include "harness.h"
#include "store.h"

static const char v1[] =
    "policy:\n"
    "  credits: {request: {}}\n"
    "  plans:\n"
    "    free:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        api: {limit: {credit: request, value: 5, mode: hard}}\n";

/* api raised to 9 */
static const char v2[] =
    "policy:\n"
    "  credits: {request: {}}\n"
    "  plans:\n"
    "    free:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        api: {limit: {credit: request, value: 9, mode: hard}}\n";

/* A fresh path for a store (nothing there yet), in a static buffer of the
 * caller's choosing. */
static void fresh_path(char *buf, size_t len, const char *tag)
{
    static int n;
    snprintf(buf, len, "/tmp/limitr_test_store_%ld_%d_%s.db", (long)getpid(),
             ++n, tag);
}

/* Removes the store and the files SQLite and the lock put beside it. */
static void remove_store(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-lock",
                                           "-journal"};
    char buf[512];
    size_t i;
    for (i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        snprintf(buf, sizeof buf, "%s%s", path, suffixes[i]);
        unlink(buf);
    }
}

static int exists(const char *path, const char *suffix)
{
    char buf[512];
    struct stat st;
    snprintf(buf, sizeof buf, "%s%s", path, suffix);
    return stat(buf, &st) == 0;
}

static int open_store(const char *policy, const char *path, limitr_engine **e,
                      const char **info)
{
    limitr_store_options so;
    memset(&so, 0, sizeof so);
    so.path = path;
    *e = NULL;
    return limitr_open(policy, policy ? strlen(policy) : 0, "yaml", NULL, &so,
                       e, info);
}

static double read_value(limitr_engine *e, const char *id, const char *ent)
{
    double v = -12345;
    if (limitr_value(e, id, ent, NULL, &v) != LIMITR_OK) return -1;
    return v;
}

static int errors_seen;
static const char *count_errors(const char *name, const char *json, void *ud)
{
    (void)name;
    (void)json;
    (void)ud;
    errors_seen++;
    return NULL;
}

/* A sync write that fails (the file refuses writes: PRAGMA query_only)
 * returns store_error, fires `error`, and leaves the engine as the file
 * has it: the call is undone, a customer it made is gone. */
TEST(a_failed_sync_write_undoes_the_call)
{
    char path[256];
    limitr_engine *e = NULL;
    const char *info = NULL;
    sqlite3 *db;
    fresh_path(path, sizeof path, "undo");
    remove_store(path);
    ASSERT_EQ(open_store(v1, path, &e, &info), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "u", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 2, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "error", count_errors, NULL, NULL), LIMITR_OK);
    db = e->store->db.db;
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL),
              SQLITE_OK);

    errors_seen = 0;
    ASSERT_EQ(limitr_allow(e, "u", "api", 1, NULL), LIMITR_STORE);
    ASSERT_STR(limitr_last_reason(e), "store_error");
    ASSERT_EQ(errors_seen, 1);
    ASSERT_NUM(read_value(e, "u", "api"), 2); /* undone */
    ASSERT_EQ(limitr_create_customer(e, "v", "free", NULL, NULL), LIMITR_STORE);
    ASSERT_STR(limitr_last_reason(e), "store_error");
    ASSERT_EQ(limitr_customer(e, "v", NULL), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_delete_customer(e, "u"), LIMITR_STORE);
    ASSERT_NUM(read_value(e, "u", "api"), 2); /* back from its row */
    ASSERT_EQ(limitr_increment(e, "u", "api", NULL), LIMITR_STORE);
    ASSERT_NUM(read_value(e, "u", "api"), 2);
    { /* both reserve calls: the text one enters the engine once too */
        char hold[24];
        uint64_t n;
        double held = -1;
        ASSERT_EQ(limitr_reserve(e, "u", "api", 1, NULL, hold, sizeof hold),
                  LIMITR_STORE);
        ASSERT_STR(limitr_last_reason(e), "store_error");
        ASSERT_EQ(limitr_reserve_n(e, "u", 1, "api", 3, 1, NULL, &n),
                  LIMITR_STORE);
        ASSERT_EQ(limitr_held(e, "u", "api", &held), LIMITR_OK);
        ASSERT_NUM(held, 0);
    }

    /* writable again: calls go on from the stored state */
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA query_only = 0", NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 3, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    ASSERT_EQ(open_store(NULL, path, &e, &info), LIMITR_OK);
    ASSERT_NUM(read_value(e, "u", "api"), 5);
    ASSERT_EQ(limitr_customer(e, "v", NULL), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    remove_store(path);
}

/* An import or a reload whose sync write fails is undone like any call:
 * the engine goes back to the policy and state the file holds, and the
 * file, writable again, goes on from there. */
TEST(a_failed_import_or_reload_write_is_undone)
{
    char path[256];
    limitr_engine *e = NULL;
    const char *info = NULL, *doc = NULL;
    char *saved;
    sqlite3 *db;
    fresh_path(path, sizeof path, "import");
    remove_store(path);
    ASSERT_EQ(open_store(v1, path, &e, &info), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "c", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_export(e, NULL, &doc, NULL), LIMITR_OK);
    saved = strdup(doc);
    ASSERT_EQ(limitr_delete_customer(e, "c"), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "a", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "a", "api", 4, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "error", count_errors, NULL, NULL), LIMITR_OK);
    db = e->store->db.db;
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL),
              SQLITE_OK);
    errors_seen = 0;
    ASSERT_EQ(limitr_import(e, saved, strlen(saved), 1, NULL), LIMITR_STORE);
    ASSERT_STR(limitr_last_reason(e), "store_error");
    ASSERT_EQ(limitr_customer(e, "c", NULL), LIMITR_NOT_FOUND); /* undone */
    ASSERT_NUM(read_value(e, "a", "api"), 4);
    ASSERT_EQ(limitr_reload(e, v2, strlen(v2), "yaml", NULL), LIMITR_STORE);
    ASSERT_STR(limitr_last_reason(e), "store_error");
    ASSERT_EQ(errors_seen, 2);
    /* v1 again: 4 + 2 passes its limit of 5 */
    ASSERT_EQ(limitr_check(e, "a", "api", 1), LIMITR_OK);
    ASSERT_EQ(limitr_check(e, "a", "api", 2), LIMITR_DENIED);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA query_only = 0", NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_EQ(limitr_allow(e, "a", "api", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    ASSERT_EQ(open_store(NULL, path, &e, &info), LIMITR_OK);
    ASSERT_CONTAINS(info, "\"customers\":1");
    ASSERT_EQ(limitr_customer(e, "c", NULL), LIMITR_NOT_FOUND);
    ASSERT_NUM(read_value(e, "a", "api"), 5);
    ASSERT_EQ(limitr_allow(e, "a", "api", 1, NULL), LIMITR_DENIED); /* v1 */
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    free(saved);
    remove_store(path);
}

/* Events seen, as "name:customer;" (a sync store delivers them once the
 * changes that fired them are written). */
static char seen_events[512];
static const char *record_event(const char *name, const char *json, void *ud)
{
    const char *id = strstr(json, "\"id\":\"");
    size_t n = strlen(seen_events);
    (void)ud;
    snprintf(seen_events + n, sizeof seen_events - n, "%s:%.1s;", name,
             id != NULL ? id + 6 : "?");
    return NULL;
}

/* On u's meter-changed, a handler meters w: a call of its own, made once
 * u's change is written, and written in turn. */
static const char *meter_w(const char *name, const char *json, void *ud)
{
    (void)name;
    if (strstr(json, "\"id\":\"u\"") != NULL)
        limitr_allow((limitr_engine *)ud, "w", "api", 1, NULL);
    return NULL;
}

/* On customer-set, a handler reads another customer (its own borrowed
 * result): the created customer's snapshot must still be the answer. */
static const char *read_w(const char *name, const char *json, void *ud)
{
    (void)name;
    (void)json;
    limitr_customer((limitr_engine *)ud, "w", NULL);
    return NULL;
}

/* Sync: a call whose write fails fires only `error`; the events of a call
 * are delivered once its write succeeds, and what their handlers change is
 * written after them. */
TEST(a_sync_store_delivers_events_once_written)
{
    char path[256];
    limitr_engine *e = NULL;
    const char *info = NULL, *snap = NULL;
    sqlite3 *db;
    fresh_path(path, sizeof path, "events");
    remove_store(path);
    ASSERT_EQ(open_store(v2, path, &e, &info), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "u", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "w", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "meter-changed", record_event, NULL, NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "error", record_event, NULL, NULL), LIMITR_OK);
    db = e->store->db.db;
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL),
              SQLITE_OK);
    seen_events[0] = '\0';
    ASSERT_EQ(limitr_allow(e, "u", "api", 2, NULL), LIMITR_STORE);
    ASSERT_STR(seen_events, "error:?;");
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA query_only = 0", NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_EQ(limitr_on(e, "meter-changed", meter_w, e, NULL), LIMITR_OK);
    seen_events[0] = '\0';
    ASSERT_EQ(limitr_allow(e, "u", "api", 2, NULL), LIMITR_OK);
    ASSERT_STR(seen_events, "meter-changed:u;meter-changed:w;");
    ASSERT_EQ(limitr_on(e, "customer-set", read_w, e, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "x", "free", NULL, &snap), LIMITR_OK);
    ASSERT_CONTAINS(snap, "\"id\":\"x\"");
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    ASSERT_EQ(open_store(NULL, path, &e, &info), LIMITR_OK);
    ASSERT_NUM(read_value(e, "u", "api"), 2);
    ASSERT_NUM(read_value(e, "w", "api"), 1);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    remove_store(path);
}

/* On u's meter-changed: the file refuses writes from now on, then w is
 * metered (a call whose write fails: undone). */
static const char *lock_then_meter_w(const char *name, const char *json,
                                     void *ud)
{
    limitr_engine *e = ud;
    (void)name;
    if (strstr(json, "\"id\":\"u\"") == NULL) return NULL;
    sqlite3_exec(e->store->db.db, "PRAGMA query_only = 1", NULL, NULL, NULL);
    limitr_allow(e, "w", "api", 1, NULL);
    return NULL;
}

/* The parent column of the log row of `child_id`'s allow, and the seq of
 * `parent_id`'s allow row. */
static void log_parent(const char *path, const char *child_id,
                       const char *parent_id, long long *parent, long long *seq)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    *parent = *seq = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT parent FROM log WHERE op = 'allow' "
                           "AND customer = ?1), (SELECT seq FROM log WHERE op "
                           "= 'allow' AND customer = ?2)",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, child_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, parent_id, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) {
            *parent = sqlite3_column_type(q, 0) == SQLITE_NULL
                          ? 0
                          : sqlite3_column_int64(q, 0);
            *seq = sqlite3_column_int64(q, 1);
        }
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
}

/* Sync: a call made by a handler of a written call's event logs that call's
 * row as its parent; when the handler's write fails, the handler's change
 * is undone and `error` fires, but the call that was written answers OK. */
TEST(a_handlers_call_is_the_child_of_the_call_whose_event_it_heard)
{
    char path[256];
    limitr_engine *e = NULL;
    const char *info = NULL;
    long long parent, seq;
    int sub;
    fresh_path(path, sizeof path, "parent");
    remove_store(path);
    ASSERT_EQ(open_store(v2, path, &e, &info), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "u", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "w", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "meter-changed", meter_w, e, &sub), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 2, NULL), LIMITR_OK);
    log_parent(path, "w", "u", &parent, &seq);
    ASSERT(seq > 0);
    ASSERT_EQ(parent, seq);
    ASSERT_EQ(limitr_off(e, sub), LIMITR_OK);

    ASSERT_EQ(limitr_on(e, "meter-changed", lock_then_meter_w, e, NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "error", count_errors, NULL, NULL), LIMITR_OK);
    errors_seen = 0;
    ASSERT_EQ(limitr_allow(e, "u", "api", 3, NULL), LIMITR_OK); /* written */
    ASSERT_EQ(errors_seen, 1); /* the handler's write failed */
    ASSERT_NUM(read_value(e, "u", "api"), 5);
    ASSERT_NUM(read_value(e, "w", "api"), 1); /* its second unit undone */
    ASSERT_EQ(sqlite3_exec(e->store->db.db, "PRAGMA query_only = 0", NULL, NULL,
                           NULL),
              SQLITE_OK);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    ASSERT_EQ(open_store(NULL, path, &e, &info), LIMITR_OK);
    ASSERT_NUM(read_value(e, "u", "api"), 5);
    ASSERT_NUM(read_value(e, "w", "api"), 1);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    remove_store(path);
}

/* The values of the log's allow rows, in order, as "1,1,2,...". */
static void allow_values(const char *path, char *out, size_t len)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    size_t n = 0;
    out[0] = '\0';
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return;
    if (sqlite3_prepare_v2(db,
                           "SELECT value FROM log WHERE op = 'allow' ORDER BY "
                           "seq",
                           -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW && n + 8 < len)
            n += (size_t)snprintf(out + n, len - n, "%s%d", n ? "," : "",
                                  sqlite3_column_int(q, 0));
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
}

/* The text of a query's rows: columns joined by '|', rows by ';' (NULL
 * as "-"). */
static void query_text(const char *path, const char *sql, char *out, size_t len)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    size_t n = 0;
    int i;
    out[0] = '\0';
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW)
            for (i = 0; i < sqlite3_column_count(q) && n + 1 < len; i++) {
                const unsigned char *t = sqlite3_column_text(q, i);
                n += (size_t)snprintf(
                    out + n, len - n, "%s%s", t != NULL ? (const char *)t : "-",
                    i + 1 < sqlite3_column_count(q) ? "|" : ";");
            }
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
}

/* A batch write that fails keeps its log rows: the next write puts them
 * first, so the log misses no call and keeps their order. */
TEST(a_failed_batch_write_keeps_its_log_rows)
{
    char path[256], values[256], rows[512];
    limitr_engine *e = NULL;
    const char *info = NULL;
    limitr_store_options so;
    limitr_call_opts with_event = {"{\"k\":1}", 0, 0, 0, 0, NULL};
    struct timespec pause = {0, 150 * 1000000L}; /* batch_ms 20, and more */
    sqlite3 *db;
    fresh_path(path, sizeof path, "batchlog");
    remove_store(path);
    memset(&so, 0, sizeof so);
    so.path = path;
    so.durability = LIMITR_DURABILITY_BATCH;
    so.batch_ms = 20;
    ASSERT_EQ(limitr_open(v2, strlen(v2), "yaml", NULL, &so, &e, &info),
              LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "u", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_checkpoint(e), LIMITR_OK);
    ASSERT_EQ(limitr_on(e, "error", count_errors, NULL, NULL), LIMITR_OK);
    db = e->store->db.db;
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL),
              SQLITE_OK);
    errors_seen = 0;
    /* kept rows keep what few rows carry too: a value as text, options */
    ASSERT_EQ(limitr_allow(e, "u", "api", 2, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow_str(e, "u", "api", "2", NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 2, &with_event), LIMITR_OK);
    nanosleep(&pause, NULL); /* the writer fails */
    ASSERT_EQ(limitr_allow(e, "u", "api", 3, NULL), LIMITR_DENIED);
    ASSERT(errors_seen >= 1);
    nanosleep(&pause, NULL); /* and fails again, with both batches' rows */
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA query_only = 0", NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 1, NULL), LIMITR_OK);
    nanosleep(&pause, NULL); /* written: nothing stays kept */
    ASSERT_EQ(e->store->kept_log.n_recs, 0);
    ASSERT_EQ(e->store->kept_log.n_extras, 0);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    allow_values(path, values, sizeof values);
    ASSERT_STR(values, "1,2,2,2,3,1");
    query_text(path,
               "SELECT customer, entitlement, value, opts, result, reason FROM "
               "log WHERE op = 'allow' ORDER BY seq",
               rows, sizeof rows);
    /* numbers as REAL ("2.0"), the text value as it came ("2") */
    ASSERT_STR(rows, "u|api|1.0|-|allowed|-;u|api|2.0|-|allowed|-;"
                     "u|api|2|-|allowed|-;u|api|2.0|{\"k\":1}|allowed|-;"
                     "u|api|3.0|-|denied|limit;u|api|1.0|-|allowed|-;");
    ASSERT_EQ(open_store(NULL, path, &e, &info), LIMITR_OK);
    ASSERT_NUM(read_value(e, "u", "api"), 8);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    remove_store(path);
}

TEST(create_meter_close_reopen_keeps_usage)
{
    char path[256];
    limitr_engine *e = NULL;
    const char *info = NULL;
    fresh_path(path, sizeof path, "keep");
    remove_store(path);

    ASSERT_EQ(open_store(v1, path, &e, &info), LIMITR_OK);
    ASSERT(e != NULL);
    ASSERT_CONTAINS(info, "\"created\":true");
    ASSERT_CONTAINS(info, "\"customers\":0");
    ASSERT_CONTAINS(info, "\"policy_changed\":false");
    ASSERT_EQ(limitr_create_customer(e, "u", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "w", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 3, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 3, NULL), LIMITR_DENIED);
    ASSERT_EQ(limitr_allow(e, "w", "api", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    ASSERT(exists(path, ""));

    /* the same policy */
    ASSERT_EQ(open_store(v1, path, &e, &info), LIMITR_OK);
    ASSERT_CONTAINS(info, "\"created\":false");
    ASSERT_CONTAINS(info, "\"customers\":2");
    ASSERT_CONTAINS(info, "\"policy_changed\":false");
    ASSERT_NUM(read_value(e, "u", "api"), 3);
    ASSERT_NUM(read_value(e, "w", "api"), 1);
    ASSERT_EQ(limitr_allow(e, "u", "api", 2, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 1, NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "limit");
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);

    /* the store's own policy */
    ASSERT_EQ(open_store(NULL, path, &e, &info), LIMITR_OK);
    ASSERT_CONTAINS(info, "\"created\":false");
    ASSERT_CONTAINS(info, "\"customers\":2");
    ASSERT_CONTAINS(info, "\"policy_changed\":false");
    ASSERT_NUM(read_value(e, "u", "api"), 5);
    ASSERT_NUM(read_value(e, "w", "api"), 1);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    remove_store(path);
}

TEST(a_changed_policy_on_reopen_is_a_reload)
{
    char path[256];
    limitr_engine *e = NULL;
    const char *info = NULL;
    double limit = 0;
    fresh_path(path, sizeof path, "reload");
    remove_store(path);

    ASSERT_EQ(open_store(v1, path, &e, &info), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "u", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 5, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 1, NULL), LIMITR_DENIED);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);

    ASSERT_EQ(open_store(v2, path, &e, &info), LIMITR_OK);
    ASSERT_CONTAINS(info, "\"policy_changed\":true");
    ASSERT_CONTAINS(info, "\"created\":false");
    ASSERT_CONTAINS(info, "\"customers\":1");
    ASSERT_NUM(read_value(e, "u", "api"), 5);
    ASSERT_EQ(limitr_limit(e, "u", "api", &limit), LIMITR_OK);
    ASSERT_NUM(limit, 9);
    ASSERT_EQ(limitr_allow(e, "u", "api", 4, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 1, NULL), LIMITR_DENIED);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);

    /* the new policy is now the store's own */
    ASSERT_EQ(open_store(NULL, path, &e, &info), LIMITR_OK);
    ASSERT_CONTAINS(info, "\"policy_changed\":false");
    ASSERT_NUM(read_value(e, "u", "api"), 9);
    ASSERT_EQ(limitr_limit(e, "u", "api", &limit), LIMITR_OK);
    ASSERT_NUM(limit, 9);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    remove_store(path);
}

TEST(a_second_writer_is_refused_until_the_first_closes)
{
    char path[256], expected[512];
    limitr_engine *a = NULL, *b = NULL;
    const char *info = NULL;
    fresh_path(path, sizeof path, "writer");
    remove_store(path);

    ASSERT_EQ(open_store(v1, path, &a, &info), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(a, "u", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(a, "u", "api", 2, NULL), LIMITR_OK);

    ASSERT_EQ(open_store(v1, path, &b, &info), LIMITR_STORE);
    snprintf(expected, sizeof expected,
             "%s: open for writing by another engine (pid %ld)", path,
             (long)getpid());
    ASSERT_STR(limitr_last_error(b), expected);
    ASSERT_STR(limitr_last_reason(b), "store_error");
    limitr_free(b);
    b = NULL;
    /* the store's own policy: refused alike */
    ASSERT_EQ(open_store(NULL, path, &b, &info), LIMITR_STORE);
    ASSERT_STR(limitr_last_error(b), expected);
    limitr_free(b);
    b = NULL;

    /* the first still works */
    ASSERT_EQ(limitr_allow(a, "u", "api", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_close(a), LIMITR_OK);
    limitr_free(a);

    ASSERT_EQ(open_store(NULL, path, &b, &info), LIMITR_OK);
    ASSERT_NUM(read_value(b, "u", "api"), 3);
    ASSERT_EQ(limitr_close(b), LIMITR_OK);
    limitr_free(b);
    remove_store(path);
}

TEST(a_text_file_is_refused_untouched)
{
    static const char text[] = "hello, this is not a database\n";
    char path[256], expected[512], got[256];
    limitr_engine *e = NULL;
    const char *info = NULL;
    FILE *f;
    size_t n;
    fresh_path(path, sizeof path, "text");
    remove_store(path);
    f = fopen(path, "wb");
    ASSERT(f != NULL);
    fwrite(text, 1, sizeof text - 1, f);
    fclose(f);

    ASSERT_EQ(open_store(v1, path, &e, &info), LIMITR_STORE);
    snprintf(expected, sizeof expected, "%s: not a SQLite database", path);
    ASSERT_STR(limitr_last_error(e), expected);
    limitr_free(e);
    e = NULL;
    ASSERT_EQ(open_store(NULL, path, &e, &info), LIMITR_STORE);
    ASSERT_STR(limitr_last_error(e), expected);
    limitr_free(e);

    f = fopen(path, "rb");
    ASSERT(f != NULL);
    n = fread(got, 1, sizeof got, f);
    fclose(f);
    ASSERT_EQ(n, sizeof text - 1);
    ASSERT(memcmp(got, text, n) == 0);
    ASSERT(!exists(path, "-wal"));
    ASSERT(!exists(path, "-shm"));
    remove_store(path);
}

TEST(checkpoint_without_a_store_and_close_twice)
{
    char path[256];
    limitr_engine *e = engine_of(v1, NULL);
    const char *info = NULL;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_checkpoint(e), LIMITR_STORE);
    ASSERT_STR(limitr_last_reason(e), "no_store");
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    e = NULL;

    /* a store: checkpoint, then close twice; the engine runs on in memory
     * and has no store left to checkpoint */
    fresh_path(path, sizeof path, "close");
    remove_store(path);
    ASSERT_EQ(open_store(v1, path, &e, &info), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "u", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "u", "api", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_checkpoint(e), LIMITR_OK);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    ASSERT_EQ(limitr_checkpoint(e), LIMITR_STORE);
    ASSERT_STR(limitr_last_reason(e), "no_store");
    limitr_free(e);
    e = NULL;

    /* the lock went with close: a new writer opens it */
    ASSERT_EQ(open_store(NULL, path, &e, &info), LIMITR_OK);
    ASSERT_NUM(read_value(e, "u", "api"), 1);
    ASSERT_EQ(limitr_close(e), LIMITR_OK);
    limitr_free(e);
    remove_store(path);

    /* no path: limitr_new */
    {
        limitr_store_options so;
        memset(&so, 0, sizeof so);
        e = NULL;
        ASSERT_EQ(limitr_open(v1, strlen(v1), "yaml", NULL, &so, &e, NULL),
                  LIMITR_OK);
        ASSERT_EQ(limitr_checkpoint(e), LIMITR_STORE);
        ASSERT_STR(limitr_last_reason(e), "no_store");
        limitr_free(e);
    }
}

int main(void)
{
    RUN(create_meter_close_reopen_keeps_usage);
    RUN(a_changed_policy_on_reopen_is_a_reload);
    RUN(a_second_writer_is_refused_until_the_first_closes);
    RUN(a_text_file_is_refused_untouched);
    RUN(checkpoint_without_a_store_and_close_twice);
    RUN(a_failed_sync_write_undoes_the_call);
    RUN(a_failed_import_or_reload_write_is_undone);
    RUN(a_failed_batch_write_keeps_its_log_rows);
    RUN(a_sync_store_delivers_events_once_written);
    RUN(a_handlers_call_is_the_child_of_the_call_whose_event_it_heard);
    return HARNESS_EXIT();
}
