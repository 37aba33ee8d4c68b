/* test_shared.c: an engine whose state lives in a region shared by forked
 * processes (docs/shared.md): exact counts across processes, the lock taken
 * once per outermost call, a reload reaching every process, a region found
 * again by name, a full region refusing only what needs room, a lock wait
 * bounded, and a process killed at each journaled step of a change leaving
 * the state as it was. */
#define _DEFAULT_SOURCE /* usleep */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "engine_of.h"
#include "harness.h"
#include "region.h"

/* The test policy, with the request credit's fields and the api limit
 * given. */
#define POLICY(request, api_limit)                                             \
    "policy:\n"                                                                \
    "  credits:\n"                                                             \
    "    request: " request "\n"                                               \
    "    token: {price: {amount: 0.01}}\n"                                     \
    "  plans:\n"                                                               \
    "    free:\n"                                                              \
    "      default: true\n"                                                    \
    "      entitlements:\n"                                                    \
    "        api: {limit: {credit: request, value: " api_limit                 \
    ", mode: hard}}\n"                                                         \
    "        chat: {limit: {credit: token, value: 10, mode: soft}}\n"          \
    "        seats: {limit: {credit: request, value: 3}}\n"                    \
    "      topups:\n"                                                          \
    "        pack: {credit: token, value: 100, included: true}\n"

static const char policy[] = POLICY("{}", "500");
static const char policy_800[] = POLICY("{}", "800"); /* api raised */

static limitr_engine *shared_engine(const char *text, const char *name,
                                    size_t size)
{
    limitr_shared_options o = {name, size, 0, 0};
    limitr_engine *e = NULL;
    if (limitr_shared(text, strlen(text), "yaml", NULL, &o, &e) != LIMITR_OK) {
        fprintf(stderr, "limitr_shared: %s\n", limitr_last_error(e));
        limitr_free(e);
        return NULL;
    }
    return e;
}

/* A forked child's end: its copy of the engine freed first, since
   valgrind's leak check runs in the child too (and fails its exit). */
static void child_exit(limitr_engine *e, int code)
{
    limitr_free(e);
    _exit(code);
}

static double value_of(limitr_engine *e, const char *id, const char *ent)
{
    double v = -1;
    if (limitr_value(e, id, ent, NULL, &v) != LIMITR_OK) return -1;
    return v;
}

/* Children that each try `tries` allows; what they admitted, summed. */
static long admitted_by_children(limitr_engine *e, int children, int tries)
{
    int fds[2], i;
    long total = 0, n;
    if (pipe(fds) != 0) return -1;
    for (i = 0; i < children; i++) {
        fflush(NULL); /* a child must not write our buffered output again */
        pid_t pid = fork();
        if (pid == 0) {
            long ok = 0;
            int k;
            close(fds[0]);
            for (k = 0; k < tries; k++)
                if (limitr_allow(e, "k", "api", 1, NULL) == LIMITR_OK) ok++;
            child_exit(e, write(fds[1], &ok, sizeof ok) == sizeof ok ? 0 : 2);
        }
    }
    close(fds[1]);
    while (read(fds[0], &n, sizeof n) == sizeof n)
        total += n;
    close(fds[0]);
    while (wait(NULL) > 0)
        ;
    return total;
}

TEST(forked_processes_count_exactly)
{
    limitr_engine *e = shared_engine(policy, "exact", 4 << 20);
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "k", NULL, NULL, NULL), LIMITR_OK);
    /* 4 processes try 300 each against a hard limit of 500 */
    ASSERT_EQ(admitted_by_children(e, 4, 300), 500);
    ASSERT_NUM(value_of(e, "k", "api"), 500);
    ASSERT_EQ(limitr_allow(e, "k", "api", 1, NULL), LIMITR_DENIED);
    limitr_free(e);
}

/* A subscriber that reads the engine from inside the call it hears of. */
static const char *read_back(const char *name, const char *json, void *ud)
{
    double v;
    (void)name;
    (void)json;
    limitr_value(ud, "k", "api", NULL, &v);
    return NULL;
}

TEST(the_lock_is_taken_once_per_outermost_call)
{
    limitr_engine *e = shared_engine(policy, "locks", 2 << 20);
    limitr_shared_stats before, after;
    double v;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "k", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_stats(e, &before), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "k", "api", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "nobody", "api", 1, NULL), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_value(e, "k", "api", NULL, &v), LIMITR_OK);
    ASSERT_EQ(limitr_stats(e, &after), LIMITR_OK);
    ASSERT_EQ(after.locks - before.locks, 4); /* three calls and stats */
    ASSERT_EQ(limitr_on(e, "meter-changed", read_back, e, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_stats(e, &before), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "k", "api", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_stats(e, &after), LIMITR_OK);
    /* events come after the unlock: the handler's read is a call of its
       own (docs/shared.md) */
    ASSERT_EQ(after.locks - before.locks, 3);
    ASSERT_EQ(after.customers, 1);
    ASSERT_EQ(after.shards, 1024);
    ASSERT_EQ(after.size, 2 << 20);
    ASSERT(after.used > 0 && after.used + after.free == after.size);
    limitr_free(e);
}

/* A subscriber of one engine that allows through another engine on the
 * same region (and in the same process). */
static int nested_status = 99;
static const char *allow_through(const char *name, const char *json, void *ud)
{
    (void)name;
    if (strstr(json, "\"entitlement\":\"api\"") != NULL)
        nested_status = limitr_allow(ud, "k", "seats", 1, NULL);
    return NULL;
}

TEST(two_engines_of_one_process_share_its_hold)
{
    limitr_shared_options o = {"nested", 2 << 20, 0, 100};
    limitr_engine *e1 = NULL, *e2 = NULL;
    ASSERT_EQ(limitr_shared(policy, strlen(policy), "yaml", NULL, &o, &e1),
              LIMITR_OK);
    ASSERT_EQ(limitr_shared(policy, strlen(policy), "yaml", NULL, &o, &e2),
              LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e1, "k", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_on(e1, "meter-changed", allow_through, e2, NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_allow(e1, "k", "api", 1, NULL), LIMITR_OK);
    ASSERT_EQ(nested_status, LIMITR_OK); /* not a lock timeout */
    ASSERT_NUM(value_of(e2, "k", "seats"), 1);
    ASSERT_NUM(value_of(e2, "k", "api"), 1);
    limitr_free(e1);
    limitr_free(e2);
}

TEST(a_reload_reaches_every_process)
{
    limitr_engine *e = shared_engine(policy, "reload", 2 << 20);
    int fds[2];
    pid_t pid;
    double limit = 0;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "k", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "k", "api", 7, NULL), LIMITR_OK);
    ASSERT(pipe(fds) == 0);
    fflush(NULL); /* a child must not write our buffered output again */
    pid = fork();
    if (pid == 0) { /* forked before the reload */
        char go;
        double l = -1;
        close(fds[1]);
        if (read(fds[0], &go, 1) != 1) child_exit(e, 3);
        if (limitr_limit(e, "k", "api", &l) != LIMITR_OK || l != 800)
            child_exit(e, 1);
        if (value_of(e, "k", "api") != 7) child_exit(e, 2); /* usage kept */
        child_exit(e, 0);
    }
    close(fds[0]);
    ASSERT_EQ(limitr_reload(e, policy_800, strlen(policy_800), "yaml", NULL),
              LIMITR_OK);
    ASSERT(write(fds[1], "g", 1) == 1);
    close(fds[1]);
    {
        int status = 0;
        ASSERT(waitpid(pid, &status, 0) == pid);
        ASSERT(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
    }
    ASSERT_EQ(limitr_limit(e, "k", "api", &limit), LIMITR_OK);
    ASSERT_NUM(limit, 800);
    limitr_free(e);
}

TEST(a_region_is_found_again_by_name)
{
    limitr_engine *e = shared_engine(policy, "again", 2 << 20), *e2, *e3;
    limitr_shared_options other = {"again", 3 << 20, 0, 0};
    double limit = 0;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "k", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "k", "api", 9, NULL), LIMITR_OK);
    /* as nginx's master does on a HUP: the same name, a new policy */
    e2 = shared_engine(policy_800, "again", 2 << 20);
    ASSERT(e2 != NULL);
    ASSERT_NUM(value_of(e2, "k", "api"), 9);
    ASSERT_EQ(limitr_limit(e2, "k", "api", &limit), LIMITR_OK);
    ASSERT_NUM(limit, 800);
    ASSERT_EQ(limitr_limit(e, "k", "api", &limit), LIMITR_OK); /* follows */
    ASSERT_NUM(limit, 800);
    limitr_free(e);
    ASSERT_NUM(value_of(e2, "k", "api"), 9); /* freeing one keeps the state */
    e3 = NULL;
    ASSERT_EQ(limitr_shared(policy, strlen(policy), "yaml", NULL, &other, &e3),
              LIMITR_INVALID);
    ASSERT_STR(limitr_last_error(e3),
               "limitr.shared: region 'again' exists with another size");
    limitr_free(e3);
    limitr_free(e2);
}

TEST(any_size_gives_aligned_memory)
{
    /* sizes whose fixed part is not a multiple of 16 */
    static const size_t sizes[] = {20000000, (1 << 20) + 512, (1 << 20) + 8};
    static const char *const names[] = {"odd-1", "odd-2", "odd-3"};
    size_t i;
    for (i = 0; i < 3; i++) {
        limitr_engine *e = shared_engine(policy, names[i], sizes[i]);
        limitr_shared_stats st;
        ASSERT(e != NULL);
        ASSERT_EQ(limitr_create_customer(e, "k", NULL, NULL, NULL), LIMITR_OK);
        ASSERT_EQ(limitr_allow(e, "k", "chat", 25, NULL), LIMITR_OK);
        ASSERT_NUM(value_of(e, "k", "chat"), 25);
        ASSERT_EQ(limitr_stats(e, &st), LIMITR_OK);
        ASSERT_EQ(st.size, sizes[i]);
        ASSERT(st.used + st.free == st.size);
        limitr_free(e);
    }
}

TEST(bad_options_are_refused)
{
    limitr_shared_options small = {"small", 1000, 0, 0};
    limitr_shared_options shards = {"shards", 0, 3, 0};
    limitr_engine *e = NULL;
    ASSERT_EQ(limitr_shared(policy, strlen(policy), "yaml", NULL, &small, &e),
              LIMITR_INVALID);
    ASSERT_STR(limitr_last_error(e), "limitr.shared: size must be at least 1m");
    limitr_free(e);
    e = NULL;
    ASSERT_EQ(limitr_shared(policy, strlen(policy), "yaml", NULL, &shards, &e),
              LIMITR_INVALID);
    ASSERT_STR(limitr_last_error(e),
               "limitr.shared: shards must be a power of two");
    limitr_free(e);
    e = NULL;
    ASSERT_EQ(limitr_shared("policy: [", 9, "yaml", NULL, NULL, &e),
              LIMITR_INVALID);
    limitr_free(e);
}

/* Keeps the last `error` payload. */
static const char *keep_error(const char *name, const char *json, void *ud)
{
    (void)name;
    snprintf(ud, 256, "%s", json);
    return NULL;
}

TEST(a_full_region_refuses_only_what_needs_room)
{
    limitr_engine *e = shared_engine(policy, "full", 1 << 20);
    limitr_shared_stats before, after;
    char id[64], error_payload[256] = "";
    long n = 0;
    int status;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_on(e, "error", keep_error, error_payload, NULL),
              LIMITR_OK);
    for (;;) {
        /* 32-character IDs */
        snprintf(id, sizeof id, "customer-%023ld", n);
        status = limitr_create_customer(e, id, NULL, NULL, NULL);
        if (status != LIMITR_OK) break;
        n++;
    }
    ASSERT_EQ(status, LIMITR_NOMEM);
    ASSERT_STR(limitr_last_reason(e), "region_full");
    ASSERT_STR(limitr_last_error(e), "state region full");
    ASSERT_CONTAINS(error_payload, "\"path\":\"state\"");
    ASSERT_CONTAINS(error_payload, "\"message\":\"state region full\"");
    printf("     a 1m region held %ld customers with 3 meters and a grant\n",
           n);
    /* docs/shared.md's rule: the fixed part, the customer index (64 bytes
       per 800 of the rest, to a power of two: 64 KiB here), 16 KiB for the
       policy and names, then 368 + 48 (the ID) + 160 x 3 + 288 (a grant)
       bytes a customer */
    ASSERT(n >= (long)(((1 << 20) - REGION_FIXED_SIZE(1 << 20) - (64 << 10) -
                        (16 << 10)) /
                       (368 + 48 + 160 * 3 + 288)));
    ASSERT_EQ(limitr_stats(e, &before), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, id, NULL, NULL, NULL), LIMITR_NOMEM);
    ASSERT_EQ(limitr_stats(e, &after), LIMITR_OK);
    ASSERT_EQ(after.customers, before.customers); /* nothing half made */
    ASSERT_EQ(after.used, before.used);
    /* existing customers are served */
    ASSERT_EQ(
        limitr_allow(e, "customer-00000000000000000000000", "api", 1, NULL),
        LIMITR_OK);
    ASSERT_EQ(limitr_delete_customer(e, "customer-00000000000000000000000"),
              LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, id, NULL, NULL, NULL), LIMITR_OK);
    limitr_free(e);
}

/* Makes customers customer-0 ... customer-(n-1); 0, or -1. */
static int make_customers(limitr_engine *e, long n)
{
    char id[64];
    long k;
    for (k = 0; k < n; k++) {
        snprintf(id, sizeof id, "customer-%ld", k);
        if (limitr_create_customer(e, id, NULL, NULL, NULL) != LIMITR_OK)
            return -1;
    }
    return 0;
}

static char *export_all(limitr_engine *e);
static int import_all(limitr_engine *e);

/* A call refused for want of room changes nothing, not even what was due
 * anyway (a grant's resets, which it stores before it adds); its `error`
 * event fires once, when the section is over. */
TEST(a_call_refused_for_room_stores_nothing_it_found_due)
{
    static const char add_grant[] = "{\"credit\": \"token\", \"value\": 5}";
    limitr_engine *e = shared_engine(policy, "full-undo", 1 << 20);
    char id[64], error_payload[256] = "", *before, *after;
    const char *json = NULL;
    double v = 0;
    long n = 0;
    ASSERT(e != NULL);
    limitr_set_time(e, 0);
    ASSERT_EQ(limitr_create_customer(e, "u", NULL, NULL, NULL), LIMITR_OK);
    /* with the included pack, four grants: their list is full */
    ASSERT_EQ(limitr_add_customer_grant(
                  e, "u",
                  "{\"credit\": \"token\", \"value\": 5, \"resets\": true, "
                  "\"reset_inc\": \"1s\", \"reset_mode\": \"add\"}",
                  &json),
              LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_grant(e, "u", add_grant, &json), LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_grant(e, "u", add_grant, &json), LIMITR_OK);
    do
        snprintf(id, sizeof id, "customer-%023ld", n++);
    while (limitr_create_customer(e, id, NULL, NULL, NULL) == LIMITR_OK);
    limitr_set_time(e, 5000); /* five resets due */
    ASSERT_EQ(limitr_on(e, "error", keep_error, error_payload, NULL),
              LIMITR_OK);
    before = export_all(e);
    ASSERT(before != NULL);
    ASSERT_EQ(limitr_add_customer_grant(e, "u", add_grant, &json),
              LIMITR_NOMEM);
    ASSERT_STR(limitr_last_reason(e), "region_full");
    ASSERT_CONTAINS(error_payload, "\"message\":\"state region full\"");
    after = export_all(e);
    ASSERT(after != NULL);
    ASSERT_STR(after, before);
    /* reads count the resets all the same: 100 + 5 x 6 + 5 + 5 */
    ASSERT_EQ(limitr_credit_remaining(e, "u", "token", &v), LIMITR_OK);
    ASSERT_NUM(v, 140);
    free(before);
    free(after);
    limitr_free(e);
}

/* A reload refused because the region cannot take its text keeps no room:
 * the estimates it had copied for the new policy are given back. */
TEST(a_reload_refused_for_room_keeps_no_room)
{
    limitr_engine *e = shared_engine(policy, "full-reload", 1 << 20);
    limitr_shared_stats before, after;
    size_t len = strlen(policy), k;
    char id[64], *bigger = malloc(len + (64 << 10) + 2);
    long n = 0;
    ASSERT(e != NULL && bigger != NULL);
    ASSERT_EQ(limitr_create_customer(e, "u", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_observe(e, "u", "api", 3, NULL), LIMITR_OK);
    do
        snprintf(id, sizeof id, "customer-%023ld", n++);
    while (limitr_create_customer(e, id, NULL, NULL, NULL) == LIMITR_OK);
    /* the same policy with a 64 KiB comment: its text does not fit */
    memcpy(bigger, policy, len);
    bigger[len] = '#';
    for (k = 1; k < (64 << 10); k++)
        bigger[len + k] = 'x';
    bigger[len + k] = '\0';
    ASSERT_EQ(limitr_stats(e, &before), LIMITR_OK);
    ASSERT_EQ(limitr_reload(e, bigger, strlen(bigger), "yaml", NULL),
              LIMITR_NOMEM);
    ASSERT_STR(limitr_last_reason(e), "region_full");
    ASSERT_EQ(limitr_stats(e, &after), LIMITR_OK);
    ASSERT_EQ(after.used, before.used);
    free(bigger);
    limitr_free(e);
}

/* The room e's region lends its journal now: 0 outside a call, once the
   commit or the undo gave it back. */
static size_t lent(limitr_engine *e)
{
    region_stats rs;
    limitr__region_stats(limitr__shared_region(e), &rs);
    return rs.lent;
}

/* A call bigger than the fixed journal (an import replacing 1,200
 * customers in a 16m region) journals into free room, gives the room back
 * and frees what it frees. */
TEST(a_call_past_the_journal_grows_it_into_free_room)
{
    limitr_engine *e = shared_engine(policy, "grown", 16 << 20);
    limitr_shared_stats before, first, second;
    ASSERT(e != NULL);
    ASSERT_EQ(make_customers(e, 1200), 0);
    ASSERT_EQ(limitr_stats(e, &before), LIMITR_OK);
    /* every customer destroyed and made again */
    ASSERT_EQ(import_all(e), LIMITR_OK);
    ASSERT_EQ(limitr_stats(e, &first), LIMITR_OK);
    ASSERT_EQ(first.journal_grown, before.journal_grown + 1);
    ASSERT_EQ(first.journal_overflows, 0);
    ASSERT_EQ(import_all(e), LIMITR_OK);
    ASSERT_EQ(limitr_stats(e, &second), LIMITR_OK);
    ASSERT_EQ(second.used, first.used); /* the frees were made */
    ASSERT_EQ(second.customers, 1200);
    ASSERT_EQ(lent(e), 0); /* the room came back */
    limitr_free(e);
}

/* When the free room cannot hold the journal either (the same import in
 * an 8m region: it journals about twice the state it replaces, past the
 * room its new customers leave), the call is still made whole and frees
 * what it frees; only undoing it is lost, and counted. */
TEST(a_call_past_the_journal_and_the_room_is_made_and_counted)
{
    limitr_engine *e = shared_engine(policy, "overflow", 8 << 20);
    limitr_shared_stats first, second;
    ASSERT(e != NULL);
    ASSERT_EQ(make_customers(e, 1200), 0);
    ASSERT_EQ(import_all(e), LIMITR_OK);
    ASSERT_EQ(limitr_stats(e, &first), LIMITR_OK);
    ASSERT(first.journal_overflows > 0); /* else this tests nothing */
    ASSERT_EQ(import_all(e), LIMITR_OK);
    ASSERT_EQ(limitr_stats(e, &second), LIMITR_OK);
    ASSERT_EQ(second.used, first.used);
    ASSERT_EQ(second.customers, 1200);
    ASSERT_EQ(lent(e), 0);
    limitr_free(e);
}

/* The room a journal borrowed goes back when the call's own allocations
 * need it: the call is made unjournaled (counted) rather than refused, as
 * before the journal could borrow. The same import in regions of 4.5 to 6
 * MiB, where pieces lent would leave its new customers short. (That its
 * frees are made once is checked on the region alone, below.) */
TEST(a_journal_gives_its_room_back_to_the_calls_allocations)
{
    size_t kib;
    for (kib = 4608; kib <= 6144; kib += 512) {
        char name[32];
        limitr_engine *e;
        limitr_shared_stats st;
        snprintf(name, sizeof name, "lend-%zu", kib);
        e = shared_engine(policy, name, kib << 10);
        ASSERT(e != NULL);
        ASSERT_EQ(make_customers(e, 1200), 0);
        ASSERT_EQ(import_all(e), LIMITR_OK);
        ASSERT_EQ(limitr_stats(e, &st), LIMITR_OK);
        ASSERT(st.journal_overflows > 0);
        ASSERT_EQ(st.customers, 1200);
        ASSERT_EQ(lent(e), 0);
        limitr_free(e);
    }
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a;
    uintptr_t y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

/* n blocks of 32 bytes of r, in one section; 0, or -1. */
static int take_blocks(region *r, void **blocks, size_t n)
{
    size_t i;
    int status = 0;
    if (limitr__region_lock(r, 1000) != 0) return -1;
    for (i = 0; i < n; i++)
        if ((blocks[i] = limitr__region_realloc(r, NULL, 0, 32)) == NULL)
            status = -1;
    limitr__region_unlock(r);
    return status;
}

/* Frees n blocks of 32 bytes in the open section. */
static void drop_blocks(region *r, void **blocks, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        limitr__region_realloc(r, blocks[i], 32, 0);
}

/* n new blocks of 32 bytes of r: 1 when they are all different and none
 * lies in [avoid, avoid + avoid_len) (no block was freed twice). */
static int fresh_blocks_distinct(region *r, void **blocks, size_t n,
                                 const char *avoid, size_t avoid_len)
{
    size_t i;
    if (take_blocks(r, blocks, n) != 0) return 0;
    qsort(blocks, n, sizeof blocks[0], by_address);
    for (i = 0; i < n; i++)
        if ((i > 0 && blocks[i] == blocks[i - 1]) ||
            ((const char *)blocks[i] + 32 > avoid &&
             (const char *)blocks[i] < avoid + avoid_len))
            return 0;
    return 1;
}

/* The region alone: a section that frees 3,000 blocks in a full region
 * outgrows its journal while its unlock makes the frees (each free
 * journals its allocator stores, and there is no room to borrow). The
 * journal is given up there, and each block is still freed exactly once:
 * used drops by their size, and 3,000 new blocks are all different. */
TEST(a_journal_given_up_while_the_unlock_frees_frees_each_block_once)
{
    enum { N = 3000 };
    static void *blocks[N];
    region *r = limitr__region_map(1 << 20);
    region_stats before, after;
    ASSERT(r != NULL);
    ASSERT_EQ(take_blocks(r, blocks, N), 0);
    ASSERT_EQ(limitr__region_lock(r, 1000), 0); /* the rest: 4 KiB blocks */
    while (limitr__region_realloc(r, NULL, 0, 4096) != NULL)
        ;
    limitr__region_unlock(r);
    limitr__region_stats(r, &before);
    ASSERT_EQ(limitr__region_lock(r, 1000), 0);
    drop_blocks(r, blocks, N);
    limitr__region_stats(r, &after);
    ASSERT_EQ(after.journal_overflows, before.journal_overflows); /* yet */
    limitr__region_unlock(r);
    limitr__region_stats(r, &after);
    ASSERT_EQ(after.journal_overflows, before.journal_overflows + 1);
    ASSERT_EQ(after.used, before.used - N * 32);
    ASSERT_EQ(after.lent, 0);
    ASSERT(fresh_blocks_distinct(r, blocks, N, NULL, 0));
    limitr__region_unmap(r);
}

/* The region alone: a section frees 10,000 blocks (its journal grows into
 * the room), then allocates a block only the lent room can hold. The
 * journal gives the room back and is given up; the frees it had recorded
 * are still made, once, at the unlock. */
TEST(a_journal_given_up_for_an_allocation_keeps_its_frees)
{
    enum { N = 10000, BIG = 256 << 10 };
    static void *blocks[N];
    region *r = limitr__region_map(1 << 20);
    region_stats before, during, after;
    void *big;
    ASSERT(r != NULL);
    ASSERT_EQ(take_blocks(r, blocks, N), 0);
    limitr__region_stats(r, &before);
    ASSERT_EQ(limitr__region_lock(r, 1000), 0);
    drop_blocks(r, blocks, N);
    limitr__region_stats(r, &during);
    ASSERT(during.lent > 0); /* else this tests nothing */
    ASSERT((big = limitr__region_realloc(r, NULL, 0, BIG)) != NULL);
    limitr__region_stats(r, &during);
    ASSERT_EQ(during.lent, 0);
    ASSERT_EQ(during.journal_overflows, before.journal_overflows + 1);
    limitr__region_unlock(r);
    limitr__region_stats(r, &after);
    ASSERT_EQ(after.used, before.used - N * 32 + BIG);
    ASSERT(fresh_blocks_distinct(r, blocks, N, big, BIG));
    limitr__region_unmap(r);
}

/* A host function that takes a while. */
static const char *linger(const char *args, const char **result, void *ud)
{
    (void)args;
    (void)result;
    (void)ud;
    usleep(600 * 1000);
    return NULL;
}
static const char *linger_event(const char *name, const char *json, void *ud)
{
    (void)name;
    return linger(json, NULL, ud);
}

/* Forks a child that runs one allow on k's `ent`, with a meter-changed
 * subscriber and App.linger that each take 600 ms. */
static pid_t slow_child(limitr_engine *e, const char *ent)
{
    pid_t pid;
    fflush(NULL); /* a child must not write our buffered output again */
    pid = fork();
    if (pid == 0) {
        limitr_on(e, "meter-changed", linger_event, NULL, NULL);
        limitr_lib(e, "App", "linger", linger, NULL);
        limitr_allow(e, "k", ent, 1, NULL);
        child_exit(e, 0);
    }
    return pid;
}

/* A shared engine (region `name`, lock_timeout_ms) whose request credit's
   cost function calls App.linger, with customer k; NULL on failure. */
static limitr_engine *slow_engine(const char *name, long lock_timeout_ms)
{
    static const char slow[] = POLICY(
        "{overhead: 'function(units) App.linger(); return 0 end'}", "500");
    limitr_shared_options o = {name, 2 << 20, 0, lock_timeout_ms};
    limitr_engine *e = NULL;
    if (limitr_shared(slow, strlen(slow), "yaml", NULL, &o, &e) != LIMITR_OK ||
        limitr_create_customer(e, "k", NULL, NULL, NULL) != LIMITR_OK) {
        limitr_free(e);
        return NULL;
    }
    return e;
}

/* A cost function runs under the lock: one that waits on its host makes
   other processes wait, bounded by lock_timeout. Events come after the
   unlock: a slow subscriber holds nobody up. */
TEST(a_lock_wait_is_bounded_and_events_hold_no_lock)
{
    limitr_engine *e = slow_engine("timeout", 100);
    pid_t pid;
    int status = 0;
    ASSERT(e != NULL);
    pid = slow_child(e, "api"); /* its cost function lingers */
    usleep(200 * 1000);
    ASSERT_EQ(limitr_allow(e, "k", "api", 1, NULL), LIMITR_ERROR);
    ASSERT_STR(limitr_last_reason(e), "lock_timeout");
    ASSERT_STR(limitr_last_error(e), "lock timeout");
    ASSERT(waitpid(pid, &status, 0) == pid);
    ASSERT_EQ(limitr_allow(e, "k", "api", 1, NULL), LIMITR_OK);
    ASSERT_NUM(value_of(e, "k", "api"), 2);
    pid = slow_child(e, "chat"); /* no cost function: its subscriber lingers */
    usleep(200 * 1000);
    ASSERT_EQ(limitr_allow(e, "k", "api", 1, NULL), LIMITR_OK);
    ASSERT(waitpid(pid, &status, 0) == pid);
    ASSERT_NUM(value_of(e, "k", "chat"), 1);
    limitr_free(e);
}

/* stats.lock_waits counts the sections that waited for another process's
   hold: none for calls alone, one for an allow made while a child's cost
   function lingers under the lock. */
TEST(a_wait_for_the_lock_is_counted)
{
    limitr_engine *e = slow_engine("waits", 5000);
    limitr_shared_stats before, after;
    pid_t pid;
    int status = 0;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_stats(e, &before), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "k", "chat", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_stats(e, &after), LIMITR_OK);
    ASSERT_EQ(after.lock_waits, before.lock_waits);
    pid = slow_child(e, "api"); /* holds the lock about 600 ms */
    usleep(200 * 1000);
    ASSERT_EQ(limitr_allow(e, "k", "chat", 1, NULL), LIMITR_OK);
    ASSERT(waitpid(pid, &status, 0) == pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_EQ(limitr_stats(e, &after), LIMITR_OK);
    ASSERT_EQ(after.lock_waits - before.lock_waits, 1);
    ASSERT(after.locks - before.locks >= 4); /* ours, and the child's */
    limitr_free(e);
}

/* App.rate: a quarter rune a request, counting its calls. */
static int rate_calls;
static const char *rate(const char *args, const char **result, void *ud)
{
    (void)args;
    (void)ud;
    rate_calls++;
    *result = "0.25";
    return NULL;
}

/* A process forked after the engine was made (an nginx worker) compiles
 * the policy into a snippet VM of its own at its first call, with the
 * host functions the engine had; the process that forked keeps its own. */
TEST(a_forked_process_compiles_its_own_policy_at_its_first_call)
{
    static const char priced[] = POLICY(
        "{overhead: 'function(units) return App.rate() * units end'}", "500");
    limitr_engine *e = shared_engine(priced, "forked", 2 << 20);
    const lp_policy *before;
    pid_t pid;
    int status = -1;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_lib(e, "App", "rate", rate, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "k", NULL, NULL, NULL), LIMITR_OK);
    before = e->policy;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        rate_calls = 0;
        if (limitr_allow(e, "k", "api", 4, NULL) != LIMITR_OK) child_exit(e, 1);
        if (e->policy == before) child_exit(e, 2); /* still the fork's copy */
        if (rate_calls != 1) child_exit(e, 3);     /* App.rate in the new VM */
        child_exit(e, 0);
    }
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    ASSERT_NUM(value_of(e, "k", "api"), 4); /* the child's allow */
    ASSERT(e->policy == before);            /* this process kept its own */
    limitr_free(e);
    /* a policy without snippets has no VM to make: nothing is compiled */
    e = shared_engine(policy, "forked-plain", 2 << 20);
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "k", NULL, NULL, NULL), LIMITR_OK);
    before = e->policy;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        if (limitr_allow(e, "k", "api", 1, NULL) != LIMITR_OK) child_exit(e, 1);
        child_exit(e, e->policy == before ? 0 : 2);
    }
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    limitr_free(e);
}

/* ---- Killed inside a change ---- */

typedef int (*change_fn)(limitr_engine *e);

static int allow_from_grant(limitr_engine *e)
{
    /* past the soft limit of 10: drawn from the included pack */
    return limitr_allow(e, "k", "chat", 25, NULL);
}

static int create_one(limitr_engine *e)
{
    return limitr_create_customer(e, "new-one", NULL, NULL, NULL);
}

static int delete_one(limitr_engine *e)
{
    return limitr_delete_customer(e, "k");
}

static int reload_one(limitr_engine *e)
{
    return limitr_reload(e, policy_800, strlen(policy_800), "yaml", NULL);
}

/* a reload that changes a credit's units: every customer changes */
static int reload_units(limitr_engine *e)
{
    static const char units[] = POLICY("{units: MB}", "500");
    return limitr_reload(e, units, strlen(units), "yaml", NULL);
}

/* under the org's shared cap, two refs up the walk */
static int allow_under_cap(limitr_engine *e)
{
    return limitr_allow(e, "k", "chat", 5, NULL);
}

static int add_cap(limitr_engine *e)
{
    return limitr_add_customer_cap(e, "k", "{\"value\": 50}", NULL);
}

static char setup_hold[64]; /* the hold the setup made */

static int reserve_one(limitr_engine *e)
{
    char hold[64];
    return limitr_reserve(e, "k", "api", 2, NULL, hold, sizeof hold);
}

static int settle_one(limitr_engine *e)
{
    return limitr_settle(e, "k", "api", setup_hold, 1, NULL);
}

/* the whole state, exported and imported over itself */
static char *export_all(limitr_engine *e)
{
    const char *json = NULL;
    size_t len = 0;
    char *copy;
    if (limitr_export(e, NULL, &json, &len) != LIMITR_OK) return NULL;
    if ((copy = malloc(len + 1)) == NULL) return NULL;
    memcpy(copy, json, len);
    copy[len] = '\0';
    return copy;
}

static int import_all(limitr_engine *e)
{
    char *copy = export_all(e);
    int status;
    if (copy == NULL) return -1;
    status = limitr_import(e, copy, strlen(copy), 1, NULL);
    free(copy);
    return status;
}

/* One child running change(e), its process killed at journaled step k. */
typedef struct kill_run {
    int killed;  /* it died at step k */
    int through; /* else: it exited, with 0 */
    int same;    /* the exported state after is the state before */
    limitr_shared_stats before, after;
} kill_run;

/* Runs one (0), or -1 when it could not be run or read. */
static int kill_run_at(limitr_engine *e, change_fn change, long k,
                       kill_run *run)
{
    char *before = export_all(e), *after;
    int status = 0;
    pid_t pid;
    if (before == NULL || limitr_stats(e, &run->before) != LIMITR_OK) {
        free(before);
        return -1;
    }
    fflush(NULL); /* a child must not write our buffered output again */
    pid = fork();
    if (pid == 0) {
        free(before); /* valgrind's leak check runs in the child too */
        limitr__region_fault_after(k);
        change(e);
        limitr__region_fault_after(0);
        child_exit(e, 0);
    }
    if (waitpid(pid, &status, 0) != pid) {
        free(before);
        return -1;
    }
    after = export_all(e); /* undoes a dead child's journal */
    run->killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    run->through = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    run->same = after != NULL && strcmp(before, after) == 0;
    free(before);
    free(after);
    return limitr_stats(e, &run->after) == LIMITR_OK ? 0 : -1;
}

/* Every slot handed out is a live customer's or free, never both nor
 * twice: what the export does not show, and per-process caches key on. */
static int slots_consistent(limitr_engine *e)
{
    const state_data *d = e->st.d;
    unsigned char *seen = calloc(d->next_slot + 1, 1);
    size_t i, live = 0;
    int ok = seen != NULL;
    for (i = 0; ok && i < d->customers.cap; i++) {
        const customer *c = d->customers.slots[i].c;
        if (c == NULL || c == IDMAP_TOMBSTONE) continue;
        ok = c->slot < d->next_slot && !seen[c->slot];
        if (ok) seen[c->slot] = 1, live++;
    }
    for (i = 0; ok && i < d->n_free_slots; i++) {
        ok = d->free_slots[i] < d->next_slot && !seen[d->free_slots[i]];
        if (ok) seen[d->free_slots[i]] = 1;
    }
    free(seen);
    return ok && live + d->n_free_slots == d->next_slot;
}

/* A killed run was undone whole: the state, its bytes and the journal's
 * lent room as before, one recovery more. */
static int undone(limitr_engine *e, const kill_run *run)
{
    return run->same && run->after.used == run->before.used && lent(e) == 0 &&
           run->after.recoveries == run->before.recoveries + 1 &&
           slots_consistent(e);
}

/* Kills a child at journaled step 1, 2, ... of `change` until it gets
 * through: after each kill, the next call finds the state as it was. */
static int killed_at_each_step(const char *name, change_fn change, long *steps)
{
    limitr_engine *e = shared_engine(policy, name, 2 << 20);
    long k;
    int bad = 0;
    if (e == NULL) return -1;
    /* a clock that stands still: exports differ only by the change */
    if (limitr_set_time(e, 1700000000000) != LIMITR_OK ||
        limitr_create_customer(e, "org", NULL, "{\"type\": \"org\"}", NULL) !=
            LIMITR_OK ||
        limitr_add_customer_cap(e, "org", "{\"value\": 1000, \"shared\": true}",
                                NULL) != LIMITR_OK ||
        limitr_create_customer(e, "k", NULL, "{\"refs\": [\"org\"]}", NULL) !=
            LIMITR_OK ||
        /* a free slot for the change to take (and give others back) */
        limitr_create_customer(e, "gone", NULL, NULL, NULL) != LIMITR_OK ||
        limitr_delete_customer(e, "gone") != LIMITR_OK ||
        limitr_allow(e, "k", "api", 3, NULL) != LIMITR_OK ||
        limitr_reserve(e, "k", "api", 4, NULL, setup_hold, sizeof setup_hold) !=
            LIMITR_OK)
        return -1;
    for (k = 1; k < 100000; k++) {
        kill_run run;
        if (kill_run_at(e, change, k, &run) != 0) return -1;
        if (run.killed) {
            if (!undone(e, &run)) {
                fprintf(stderr, "%s: killed at step %ld: %zu -> %zu bytes\n",
                        name, k, run.before.used, run.after.used);
                bad++;
            }
            continue;
        }
        /* the child got through: its change is there */
        if (!run.through) bad++;
        if (change != reload_one && change != reload_units &&
            change != import_all && run.same)
            bad++;
        break;
    }
    *steps = k;
    if (change == reload_one) {
        double limit = 0;
        if (limitr_limit(e, "k", "api", &limit) != LIMITR_OK || limit != 800)
            bad++;
    }
    limitr_free(e);
    return bad;
}

TEST(a_process_killed_inside_a_change_leaves_nothing_half_done)
{
    static const struct {
        const char *name;
        change_fn fn;
    } changes[] = {{"kill-allow", allow_from_grant},
                   {"kill-create", create_one},
                   {"kill-delete", delete_one},
                   {"kill-reload", reload_one},
                   {"kill-reload-units", reload_units},
                   {"kill-cap-allow", allow_under_cap},
                   {"kill-add-cap", add_cap},
                   {"kill-reserve", reserve_one},
                   {"kill-settle", settle_one},
                   {"kill-import", import_all}};
    size_t i;
    for (i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        long steps = 0;
        int bad = killed_at_each_step(changes[i].name, changes[i].fn, &steps);
        printf("     %s: killed at each of %ld journaled steps\n",
               changes[i].name, steps - 1);
        ASSERT_EQ(bad, 0);
        ASSERT(steps > 3);
    }
}

/* the refused add of a_call_refused_for_room_stores_nothing_it_found_due */
static int add_grant_refused(limitr_engine *e)
{
    return limitr_add_customer_grant(
        e, "u", "{\"credit\": \"token\", \"value\": 5}", NULL);
}

/* A process killed while its call refused for room is undone (or right
 * after, while the epoch moves) leaves the state as it was, as one that
 * gets through does. */
TEST(a_process_killed_in_the_undo_of_a_refused_call_leaves_nothing)
{
    static const char reset_grant[] =
        "{\"credit\": \"token\", \"value\": 5, \"resets\": true, "
        "\"reset_inc\": \"1s\", \"reset_mode\": \"add\"}";
    static const char add_grant[] = "{\"credit\": \"token\", \"value\": 5}";
    limitr_engine *e = shared_engine(policy, "kill-undo", 1 << 20);
    char id[64];
    long n = 0, k;
    int bad = 0, through = 0;
    ASSERT(e != NULL);
    limitr_set_time(e, 0);
    ASSERT_EQ(limitr_create_customer(e, "u", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_grant(e, "u", reset_grant, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_grant(e, "u", add_grant, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_grant(e, "u", add_grant, NULL), LIMITR_OK);
    do
        snprintf(id, sizeof id, "customer-%023ld", n++);
    while (limitr_create_customer(e, id, NULL, NULL, NULL) == LIMITR_OK);
    limitr_set_time(e, 5000);
    for (k = 1; k < 1000 && !through; k++) {
        kill_run run;
        ASSERT_EQ(kill_run_at(e, add_grant_refused, k, &run), 0);
        if (run.killed && !undone(e, &run)) bad++;
        through = !run.killed;
        if (through && !(run.through && run.same &&
                         run.after.used == run.before.used))
            bad++;
    }
    printf("     kill-refused: killed at each of %ld journaled steps\n",
           k - 2);
    ASSERT(through);
    ASSERT(k > 3);
    ASSERT_EQ(bad, 0);
    limitr_free(e);
}

/* One child importing every customer of e, killed at journaled step k:
 * -1 when the state afterwards is not the state before (or the run
 * failed), 0 when it was killed and undone, 1 when it got through with its
 * journal. *grew: its journal took free room. */
static int import_killed_at(limitr_engine *e, long k, int *grew)
{
    kill_run run;
    if (kill_run_at(e, import_all, k, &run) != 0) return -1;
    *grew = run.after.journal_grown > run.before.journal_grown;
    if (run.killed) {
        if (undone(e, &run)) return 0;
        fprintf(stderr, "killed at step %ld: not undone\n", k);
        return -1;
    }
    return run.through &&
                   run.after.journal_overflows == run.before.journal_overflows
               ? 1
               : -1;
}

/* A process killed inside a call whose journal grew into free room (the
 * 1,200-customer import of a 16m region) leaves the state as it was, and
 * the room back: killed at journaled step 64, 128, 256, ... until one gets
 * through, then at each step around the one that cut the first piece. */
TEST(a_process_killed_past_the_fixed_journal_leaves_nothing_half_done)
{
    limitr_engine *e = shared_engine(policy, "kill-grown", 16 << 20);
    long k, lo = 0, hi = 0, kills = 0;
    int r = 0, grew = 0;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_set_time(e, 1700000000000), LIMITR_OK);
    ASSERT_EQ(make_customers(e, 1200), 0);
    for (k = 64; k < (1L << 30); k *= 2) {
        r = import_killed_at(e, k, &grew);
        ASSERT(r >= 0);
        if (r == 1) break;
        kills++;
        if (grew && hi == 0) hi = k; /* it grew by step k */
        if (!grew) lo = k;
    }
    ASSERT_EQ(r, 1);
    ASSERT(hi > 0); /* else this tests only the fixed part */
    /* the first step that cuts a piece: killed there, the child grew */
    while (hi - lo > 1) {
        long mid = lo + (hi - lo) / 2;
        ASSERT_EQ(import_killed_at(e, mid, &grew), 0);
        kills++;
        if (grew)
            hi = mid;
        else
            lo = mid;
    }
    for (k = hi - 3; k <= hi + 3; k++) {
        ASSERT_EQ(import_killed_at(e, k, &grew), 0);
        kills++;
    }
    printf("     killed at %ld steps of an import whose journal grew at "
           "step %ld\n",
           kills, hi);
    limitr_free(e);
}

int main(void)
{
    RUN(forked_processes_count_exactly);
    RUN(the_lock_is_taken_once_per_outermost_call);
    RUN(two_engines_of_one_process_share_its_hold);
    RUN(a_reload_reaches_every_process);
    RUN(a_region_is_found_again_by_name);
    RUN(any_size_gives_aligned_memory);
    RUN(bad_options_are_refused);
    RUN(a_full_region_refuses_only_what_needs_room);
    RUN(a_call_refused_for_room_stores_nothing_it_found_due);
    RUN(a_reload_refused_for_room_keeps_no_room);
    RUN(a_call_past_the_journal_grows_it_into_free_room);
    RUN(a_call_past_the_journal_and_the_room_is_made_and_counted);
    RUN(a_journal_gives_its_room_back_to_the_calls_allocations);
    RUN(a_journal_given_up_while_the_unlock_frees_frees_each_block_once);
    RUN(a_journal_given_up_for_an_allocation_keeps_its_frees);
    RUN(a_lock_wait_is_bounded_and_events_hold_no_lock);
    RUN(a_wait_for_the_lock_is_counted);
    RUN(a_forked_process_compiles_its_own_policy_at_its_first_call);
    RUN(a_process_killed_inside_a_change_leaves_nothing_half_done);
    RUN(a_process_killed_in_the_undo_of_a_refused_call_leaves_nothing);
    RUN(a_process_killed_past_the_fixed_journal_leaves_nothing_half_done);
    return harness_failures ? 1 : 0;
}
