/* harness.h: a tiny assertion harness for the C unit tests (libuv style).
 * Each test file defines TEST(name) functions and lists them in main with
 * RUN(name); a failed ASSERT prints where and makes the binary exit 1. */
#ifndef LIMITR_TEST_HARNESS_H
#define LIMITR_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_failures;
static int harness_current_failed;

#define TEST(name) static void test_##name(void)

#define RUN(name)                                                              \
    do {                                                                       \
        harness_current_failed = 0;                                            \
        test_##name();                                                         \
        printf("%s %s\n", harness_current_failed ? "FAIL" : "ok  ", #name);    \
        harness_failures += harness_current_failed;                            \
    } while (0)

#define HARNESS_FAIL(...)                                                      \
    do {                                                                       \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                        \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        harness_current_failed = 1;                                            \
        return;                                                                \
    } while (0)

#define ASSERT(cond)                                                           \
    do {                                                                       \
        if (!(cond)) HARNESS_FAIL("assertion failed: %s", #cond);              \
    } while (0)

#define ASSERT_EQ(a, b)                                                        \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ != b_) HARNESS_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);  \
    } while (0)

#define ASSERT_NUM(a, b)                                                       \
    do {                                                                       \
        double a_ = (a), b_ = (b);                                             \
        if (!(fabs(a_ - b_) <= 1e-9 * (1 + fabs(b_))))                         \
            HARNESS_FAIL("%s == %s: %.17g != %.17g", #a, #b, a_, b_);          \
    } while (0)

#define ASSERT_STR(a, b)                                                       \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                   \
            HARNESS_FAIL("%s == %s:\n  got      \"%s\"\n  expected \"%s\"",    \
                         #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");      \
    } while (0)

#define ASSERT_CONTAINS(hay, needle)                                           \
    do {                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                \
        if (h_ == NULL || strstr(h_, n_) == NULL)                              \
            HARNESS_FAIL("%s contains %s:\n  got \"%s\"", #hay, #needle,       \
                         h_ ? h_ : "(null)");                                  \
    } while (0)

#define HARNESS_EXIT()                                                         \
    (printf("%s\n", harness_failures ? "FAILED" : "all passed"),               \
     harness_failures ? 1 : 0)

#endif
