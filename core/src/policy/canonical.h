/* canonical.h: a policy document as its canonical JSON text, the text its
 * fingerprint hashes (docs/state.md, the fingerprint). */
#ifndef LIMITR_CANONICAL_H
#define LIMITR_CANONICAL_H

#include <stddef.h>

#include "doc.h"

/* The document as one line of JSON: keys in document order, null-valued
 * keys dropped (a null entitlement is written {}), `!lua` tags dropped,
 * numbers as the shortest decimal that reads back as the same double
 * (whole numbers below 2^53 without exponent), strings escaping only '"',
 * '\' and control characters. Malloc'ed, its length in *len; NULL when
 * memory ran out. */
char *limitr__doc_canonical(const doc_node *root, size_t *len);

/* The node as JSON text as it was read: nulls kept, numbers as written.
 * Malloc'ed, its length in *len; NULL when memory ran out. */
char *limitr__doc_json(const doc_node *node, size_t *len);

/* The fingerprint of canonical text: "sha256:" and 64 lowercase hex
 * digits (72 bytes with the NUL). */
void limitr__fingerprint_of(const char *text, size_t len, char out[72]);

#endif
