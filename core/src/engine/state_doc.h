/* state_doc.h: the state document (docs/state.md): customer state as one
 * line of JSON, written by export.c and read by import.c. */
#ifndef LIMITR_STATE_DOC_H
#define LIMITR_STATE_DOC_H

#include <stddef.h>

#include "engine.h"

#define LIMITR_STATE_VERSION 1
#define LIMITR_STATE_VERSION_TEXT "1"

/* The largest document import reads: a bound on the memory its parse
 * takes (a state of 100,000 customers is about 40 MB). */
#define LIMITR_MAX_STATE_DOCUMENT (256u * 1024u * 1024u)

/* The state (only: that customer alone) as a document, malloc'ed, its
 * length in *len; NULL when memory ran out. Writes nothing. */
char *limitr__state_export(limitr_engine *e, const customer *only,
                           size_t *len);

#endif
