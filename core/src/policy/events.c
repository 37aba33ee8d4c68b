/* events.c: event names. */
#include <string.h>

#include "events.h"

const char *const limitr__event_names[EV_COUNT] = {
#define LIMITR_EVENT_NAME(name, text) text,
    LIMITR_EVENT_LIST(LIMITR_EVENT_NAME)
#undef LIMITR_EVENT_NAME
};

int limitr__event_find(const char *name)
{
    int i;
    for (i = 0; i < EV_COUNT; i++)
        if (strcmp(limitr__event_names[i], name) == 0) return i;
    return -1;
}
