/* test_caps_nomem.c: a call whose walk for spend caps runs out of memory is
 * no decision (LIMITR_NOMEM), never a denial or a cap skipped
 * (docs/engine.md 16.2). The walk's scratch memory comes from the C
 * library, so this test puts its own realloc in front of it: the next one
 * (libc's, or the one ASan or valgrind put there) unless told to fail. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

#include "engine_of.h"
#include "harness.h"

static int fail_reallocs; /* while set, every realloc fails */
static void *(*next_realloc)(void *, size_t);

void *realloc(void *ptr, size_t size)
{
    if (fail_reallocs) return NULL;
    return next_realloc(ptr, size);
}

static const char policy_yaml[] =
    "policy:\n"
    "  credits:\n"
    "    token: {price: {amount: 0.1}}\n"
    "  plans:\n"
    "    p:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        chat: {limit: {credit: token, value: 100}}\n";

TEST(a_walk_without_memory_is_no_decision)
{
    limitr_engine *e = engine_of(policy_yaml, NULL);
    const char *json = NULL;
    uint64_t hold = 0;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_create_customer(e, "org", NULL, NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_create_customer(e, "u", NULL, "{\"refs\": [\"org\"]}",
                                     NULL),
              LIMITR_OK);
    ASSERT_EQ(limitr_add_customer_cap(
                  e, "org", "{\"value\": 100, \"shared\": true, \"id\": \"k\"}",
                  NULL),
              LIMITR_OK);
    /* the meter exists: a call of 0 meets no cap and walks nothing */
    ASSERT_EQ(limitr_allow(e, "u", "chat", 0, NULL), LIMITR_OK);
    fail_reallocs = 1;
    ASSERT_EQ(limitr_allow(e, "u", "chat", 1, NULL), LIMITR_NOMEM);
    ASSERT_STR(limitr_last_reason(e), "out_of_memory");
    ASSERT_EQ(limitr_check(e, "u", "chat", 1), LIMITR_NOMEM);
    ASSERT_EQ(limitr_explain(e, "u", "chat", 1, NULL, &json), LIMITR_NOMEM);
    ASSERT_EQ(limitr_reserve_n(e, "u", 1, "chat", 4, 1, NULL, &hold),
              LIMITR_NOMEM);
    fail_reallocs = 0;
    ASSERT_EQ(limitr_allow(e, "u", "chat", 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_customer_cap(e, "org", "k", &json), LIMITR_OK);
    ASSERT_CONTAINS(json, "\"meter_value\":0.1");
    limitr_free(e);
}

int main(void)
{
    /* (nothing in the program reallocs before main) */
    next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    if (next_realloc == NULL) {
        fprintf(stderr, "no realloc after this one\n");
        return 1;
    }
    RUN(a_walk_without_memory_is_no_decision);
    return harness_failures != 0;
}
