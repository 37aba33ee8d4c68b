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
char *limitr__state_export(limitr_engine *e, const customer *only, size_t *len);

/* Parts of the document, for the store (store/store.c), which keeps each
 * customer in a row of its own: a customer, the policy-wide estimates, the
 * units of every credit the state knows. 0, or -1: out of memory. */
struct textbuf;
int limitr__put_customer(struct textbuf *b, const limitr_engine *e,
                         const customer *c);
int limitr__put_estimates(struct textbuf *b, const limitr_engine *e,
                          const estimate_list *l);
int limitr__put_all_units(struct textbuf *b, const limitr_engine *e);

/* limitr_import with another bound on the document's length (the store
 * restores more than LIMITR_MAX_STATE_DOCUMENT). */
int limitr__import(limitr_engine *e, const char *text, size_t len, int replace,
                   size_t max_len, const char **result_json);

#endif
