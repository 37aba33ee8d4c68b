/* bench_create.c: µs per limitr_create_customer of a new customer, with and
 * without the snapshot, beside what the Lua binding does with it (parse the
 * JSON text). The Lua side of the comparison is bench_create.lua; both use
 * the same policy and ids (issue 8, item 5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "limitr.h"

#define RUNS 5   /* best of */
#define N 100000 /* customers created per timed run */

/* Kept equal to bench_create.lua's policy. */
static const char policy_text[] =
    "policy:\n"
    "  credits:\n"
    "    seat: {}\n"
    "    request: {}\n"
    "  plans:\n"
    "    pro:\n"
    "      entitlements:\n"
    "        seats: { limit: { credit: seat, value: 10 } }\n"
    "        api: { limit: { credit: request, value: 1000, resets: true } }\n"
    "        sso: {}\n";

enum { PLAIN, SNAPSHOT, SNAPSHOT_PARSED };

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void fail(const char *what, limitr_engine *e)
{
    fprintf(stderr, "bench_create: %s: %s\n", what, limitr_last_error(e));
    exit(1);
}

/* ns per create of N new customers on a fresh engine, best of RUNS. */
static double time_create(char *const *ids, int how)
{
    double best = 0;
    int run;
    for (run = 0; run < RUNS; run++) {
        limitr_engine *e = NULL;
        double t0, t;
        size_t i;
        if (limitr_new(policy_text, sizeof policy_text - 1, "yaml", NULL, &e) !=
            LIMITR_OK)
            fail("loading the policy", e);
        t0 = now_ns();
        for (i = 0; i < N; i++) {
            const char *snap = NULL;
            if (limitr_create_customer(e, ids[i], "pro", NULL,
                                       how == PLAIN ? NULL : &snap) !=
                LIMITR_OK)
                fail("create_customer", e);
            if (how == SNAPSHOT_PARSED) {
                cJSON *root = cJSON_Parse(snap);
                if (root == NULL) fail("parsing the snapshot", e);
                cJSON_Delete(root);
            }
        }
        t = (now_ns() - t0) / N;
        limitr_free(e);
        if (run == 0 || t < best) best = t;
    }
    return best;
}

int main(void)
{
    char **ids = malloc(N * sizeof *ids);
    double plain, snap, parsed;
    size_t i;
    if (ids == NULL) return 1;
    for (i = 0; i < N; i++) {
        ids[i] = malloc(16);
        if (ids[i] == NULL) return 1;
        snprintf(ids[i], 16, "cus_%06zu", i + 1);
    }
    plain = time_create(ids, PLAIN);
    snap = time_create(ids, SNAPSHOT);
    parsed = time_create(ids, SNAPSHOT_PARSED);
    printf("C   create_customer (%d new customers per run, best of %d, "
           "3 entitlements)\n",
           N, RUNS);
    printf("C   create_customer, no snapshot:        %6.2f us\n", plain / 1000);
    printf("C   create_customer, snapshot JSON:      %6.2f us\n", snap / 1000);
    printf("C   create_customer, snapshot + parse:   %6.2f us\n",
           parsed / 1000);
    for (i = 0; i < N; i++)
        free(ids[i]);
    free(ids);
    return 0;
}
