/* recorder.h: an event subscriber for the C tests that keeps the names of
 * the events it saw, in order, and the last payload. */
#ifndef LIMITR_TEST_RECORDER_H
#define LIMITR_TEST_RECORDER_H

#include <stdio.h>
#include <string.h>

typedef struct recorder {
    char names[2048]; /* "customer-set,meter-changed,..." */
    char last[8192];  /* the last payload (JSON) */
    int count;
} recorder;

static const char *record(const char *name, const char *json, void *ud)
{
    recorder *r = ud;
    if (r->names[0] != '\0')
        strncat(r->names, ",", sizeof r->names - strlen(r->names) - 1);
    strncat(r->names, name, sizeof r->names - strlen(r->names) - 1);
    snprintf(r->last, sizeof r->last, "%s", json);
    r->count++;
    return NULL;
}

#endif
