/* engine_of.h: an engine for the C tests from a YAML policy, or NULL with
 * the policy's error printed (the test then fails on its first ASSERT). */
#ifndef LIMITR_TEST_ENGINE_OF_H
#define LIMITR_TEST_ENGINE_OF_H

#include <stdio.h>
#include <string.h>

#include "limitr.h"

static inline limitr_engine *engine_of(const char *yaml,
                                       const limitr_options *o)
{
    limitr_engine *e = NULL;
    if (limitr_new(yaml, strlen(yaml), "yaml", o, &e) != LIMITR_OK) {
        fprintf(stderr, "policy: %s\n", limitr_last_error(e));
        limitr_free(e);
        return NULL;
    }
    return e;
}

/* The error list of loading YAML `text`, or "" when it loads (static
 * buffer: one result at a time). */
static inline const char *load_error(const char *text)
{
    static char buf[4096];
    limitr_engine *e = NULL;
    int status = limitr_new(text, strlen(text), "yaml", NULL, &e);
    snprintf(buf, sizeof buf, "%s",
             status == LIMITR_OK ? "" : limitr_last_error(e));
    limitr_free(e);
    return buf;
}

#endif
