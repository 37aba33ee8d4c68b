/* fuzz_policy.c: what both fuzz targets do with one input: load it, drive a
 * few customers through the public API, free it, and abort on any broken
 * promise of limitr.h (status codes, messages, allocator sizes, leaks). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_policy.h"
#include "limitr.h"

/* A broken promise stops the run; libFuzzer and replay.c both report an
 * abort together with the input that caused it. */
#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* ---- A checking allocator ---- */

/* Every block carries its size in front, so that the old_size the engine
 * passes back can be checked; live counts blocks not yet freed. */
typedef union block_header {
    size_t size;
    max_align_t align;
} block_header;

typedef struct fuzz_heap {
    size_t live;    /* blocks allocated and not freed */
    size_t count;   /* allocations and reallocations asked for */
    size_t fail_at; /* 0: never fail; n: the n-th request and later fail */
} fuzz_heap;

static void *heap_realloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    fuzz_heap *heap = ud;
    block_header *block = NULL;
    if (ptr != NULL) {
        block = (block_header *)ptr - 1;
        REQUIRE(block->size == old_size);
    }
    if (new_size == 0) {
        if (block != NULL) {
            free(block);
            heap->live--;
        }
        return NULL;
    }
    heap->count++;
    if (heap->fail_at != 0 && heap->count >= heap->fail_at) return NULL;
    if (new_size > SIZE_MAX - sizeof *block) return NULL;
    block = realloc(block, sizeof *block + new_size);
    if (block == NULL) return NULL;
    if (ptr == NULL) heap->live++;
    block->size = new_size;
    return block + 1;
}

/* ---- Event listeners and host functions ---- */

static const char *on_event(const char *name, const char *payload_json,
                            void *userdata)
{
    unsigned *events = userdata;
    REQUIRE(name != NULL && name[0] != '\0');
    REQUIRE(payload_json != NULL && payload_json[0] == '{');
    (*events)++;
    /* A failing listener now and then makes the engine fire `error`. */
    if (strcmp(name, "meter-limit") == 0) return "listener failed";
    return NULL;
}

static const char *app_meter_limit(const char *args_json,
                                   const char **result_json, void *userdata)
{
    (void)userdata;
    REQUIRE(args_json != NULL && args_json[0] == '[');
    *result_json = "true";
    return NULL;
}

/* ---- Driving the engine ---- */

/* Plans and entitlements the seed corpus uses; the API cannot list them. */
static const char *const plans[] = {NULL, "free", "paid", "pro", "a"};
static const char *const ents[] = {"seats", "chat", "a", "storage",
                                   "export_csv"};
#define N_PLANS (sizeof plans / sizeof plans[0])
#define N_ENTS (sizeof ents / sizeof ents[0])

/* What a decision may answer: allowed, denied, or a gate 1-3 / value
 * condition (unknown customer..., invalid_value, a failed value snippet). */
static int is_decision(int rc)
{
    return rc == LIMITR_OK || rc == LIMITR_DENIED || rc == LIMITR_NOT_FOUND ||
           rc == LIMITR_INVALID || rc == LIMITR_SCRIPT ||
           rc == LIMITR_BUDGET || rc == LIMITR_MEMCAP;
}

/* check must predict allow. strict: no allocation is failing on purpose. */
static void decide(limitr_engine *e, const char *id, const char *ent,
                   double value, int strict)
{
    int checked = limitr_check(e, id, ent, value);
    int allowed = limitr_allow(e, id, ent, value, NULL);
    if (!strict) return;
    REQUIRE(is_decision(checked));
    REQUIRE(checked == allowed);
    REQUIRE(limitr_last_error(e)[0] != '\0' || allowed == LIMITR_OK);
    REQUIRE(limitr_last_reason(e)[0] != '\0' || allowed == LIMITR_OK);
}

/* The three reads: NOT_FOUND leaves *out untouched, and remaining is
 * limit - value (both rounded to 9 decimals on the way out). */
static void reads(limitr_engine *e, const char *id, const char *ent, int strict)
{
    const double untouched = -12345.0;
    double value = untouched, remaining = untouched, limit = untouched;
    int rv = limitr_value(e, id, ent, NULL, &value);
    int rr = limitr_remaining(e, id, ent, NULL, &remaining);
    int rl = limitr_limit(e, id, ent, &limit);
    if (!strict) return;
    REQUIRE(rv == LIMITR_OK || rv == LIMITR_NOT_FOUND);
    REQUIRE(rr == LIMITR_OK || rr == LIMITR_NOT_FOUND);
    REQUIRE(rl == LIMITR_OK || rl == LIMITR_NOT_FOUND);
    if (rv != LIMITR_OK) REQUIRE(value == untouched);
    if (rr != LIMITR_OK) REQUIRE(remaining == untouched);
    if (rl != LIMITR_OK) REQUIRE(limit == untouched);
    REQUIRE(rr == rl);
    if (rv == LIMITR_OK && rl == LIMITR_OK) {
        double scale = fmax(1.0, fmax(fabs(limit), fabs(value)));
        REQUIRE(isfinite(value) && isfinite(limit));
        REQUIRE(fabs(remaining - (limit - value)) <= 1e-8 + 1e-12 * scale);
    }
}

static void exercise(limitr_engine *e, int strict)
{
    static const char opts[] = "{\"type\":\"org\",\"label\":\"L\",\"metadata\":"
                               "{\"k\":[1,\"\\u00e9\"]}}";
    const double amounts[] = {1, 2.5, 0, -1, 1e300, NAN, INFINITY};
    unsigned events = 0;
    char id[8];
    int sub = -1, rc;
    size_t i, j, k;

    limitr_set_time(e, INT64_C(1773144000000)); /* deterministic clock */
    limitr_on(e, "*", on_event, &events, &sub);
    limitr_on(e, "meter-changed", on_event, &events, NULL);
    limitr_lib(e, "App", "meter_limit", app_meter_limit, NULL);

    for (i = 0; i < N_PLANS; i++) {
        const char *snapshot = NULL;
        snprintf(id, sizeof id, "c%u", (unsigned)i);
        rc = limitr_create_customer(e, id, plans[i], i == 1 ? opts : NULL,
                                    i == 2 ? &snapshot : NULL);
        if (!strict) continue;
        REQUIRE(rc == LIMITR_OK || rc == LIMITR_NOT_FOUND);
        if (rc == LIMITR_NOT_FOUND)
            REQUIRE(strcmp(limitr_last_reason(e), "unknown_plan") == 0 ||
                    strcmp(limitr_last_reason(e), "no_plan") == 0);
        if (rc == LIMITR_OK && i == 2)
            REQUIRE(snapshot != NULL && snapshot[0] == '{');
    }

    /* c0..c4 (some may not exist) and c5, which never does. */
    for (i = 0; i <= N_PLANS; i++) {
        const char *snapshot = NULL;
        snprintf(id, sizeof id, "c%u", (unsigned)i);
        for (j = 0; j < N_ENTS; j++) {
            for (k = 0; k < sizeof amounts / sizeof amounts[0]; k++)
                decide(e, id, ents[j], amounts[k], strict);
            rc = limitr_increment(e, id, ents[j], NULL);
            if (strict) REQUIRE(is_decision(rc));
            rc = limitr_decrement(e, id, ents[j], NULL);
            if (strict) REQUIRE(is_decision(rc));
            rc = limitr_increment(e, id, ents[j], NULL);
            if (strict) REQUIRE(is_decision(rc));
            reads(e, id, ents[j], strict);
        }
        limitr_advance(e, 60000);
        rc = limitr_customer(e, id, &snapshot);
        if (strict && rc == LIMITR_OK)
            REQUIRE(snapshot != NULL && snapshot[0] == '{');
        if (strict && rc != LIMITR_OK) REQUIRE(rc == LIMITR_NOT_FOUND);
    }

    /* A deleted customer is unknown; an update keeps the meters. */
    if (limitr_delete_customer(e, "c1") == LIMITR_OK) {
        rc = limitr_allow(e, "c1", "seats", 1, NULL);
        if (strict) {
            REQUIRE(rc == LIMITR_NOT_FOUND);
            REQUIRE(strcmp(limitr_last_reason(e), "unknown_customer") == 0);
        }
    }
    limitr_create_customer(e, "c2", "free", NULL, NULL);
    decide(e, "c2", "seats", 1, strict);
    if (sub >= 0) limitr_off(e, sub);
    decide(e, "c2", "chat", 1, strict);
}

/* ---- One input ---- */

/* Lines of a load error: one per problem, at most 50 then "... and N more
 * errors", each "<path>: <problem>" (a path may itself hold ": "). */
static int has_separator(const char *line, size_t len)
{
    size_t i;
    for (i = 1; i + 1 < len; i++)
        if (line[i] == ':' && line[i + 1] == ' ') return 1;
    return 0;
}

static void check_load_error(const char *msg)
{
    size_t lines = 0;
    const char *line = msg;
    REQUIRE(msg[0] != '\0');
    while (line != NULL) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        int one_per_line =
            strncmp(line, "... and ", 8) == 0 || has_separator(line, len);
        if (!one_per_line)
            fprintf(stderr, "load error line without a path:\n%s\n", msg);
        REQUIRE(one_per_line);
        lines++;
        line = end != NULL ? end + 1 : NULL;
    }
    REQUIRE(lines <= 51);
}

static uint64_t hash_input(const uint8_t *data, size_t size)
{
    uint64_t h = UINT64_C(14695981039346656037);
    size_t i;
    for (i = 0; i < size; i++) {
        h ^= data[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* Loads and drives the engine with heap as its allocator; returns the
 * status of limitr_new. */
static int run_once(const uint8_t *data, size_t size, const char *format,
                    fuzz_heap *heap, int strict)
{
    limitr_allocator alloc = {heap_realloc, heap};
    limitr_options opts = {&alloc, 0, 0, 0, 0};
    limitr_engine *e = NULL;
    int rc = limitr_new((const char *)data, size, format, &opts, &e);
    REQUIRE(rc == LIMITR_OK || rc == LIMITR_INVALID || rc == LIMITR_NOMEM);
    REQUIRE(e != NULL || rc == LIMITR_NOMEM);
    REQUIRE(limitr_last_error(e) != NULL);
    if (strict) {
        REQUIRE(rc != LIMITR_NOMEM);
        if (rc == LIMITR_OK) REQUIRE(limitr_last_error(e)[0] == '\0');
        if (rc == LIMITR_INVALID) check_load_error(limitr_last_error(e));
    }
    if (rc == LIMITR_OK) exercise(e, strict);
    limitr_free(e);
    REQUIRE(heap->live == 0);
    return rc;
}

void fuzz_policy(const uint8_t *data, size_t size, const char *format)
{
    fuzz_heap heap = {0, 0, 0};
    if (run_once(data, size, format, &heap, 1) != LIMITR_OK || heap.count == 0)
        return;
    /* Again with the n-th allocation and every later one failing, n picked
     * from the input: every way out must still free everything. */
    {
        fuzz_heap failing = {0, 0, 0};
        failing.fail_at = 1 + (size_t)(hash_input(data, size) % heap.count);
        run_once(data, size, format, &failing, 0);
    }
}
