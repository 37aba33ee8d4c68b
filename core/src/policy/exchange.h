/* exchange.h: compiling prices and the `exchange` section (exchange.c);
 * the conversions themselves are declared in policy.h. */
#ifndef LIMITR_EXCHANGE_H
#define LIMITR_EXCHANGE_H

#include "compile.h"

/* The `exchange` mapping: grant_strategy and the pairs. */
void limitr__exchange_compile(compiler *cc, const doc_node *exchange);
/* A credit's `price` mapping at path into *price (amount as written). */
void limitr__price_compile(compiler *cc, const doc_node *n, const char *path,
                           lp_price *price);
/* A compiled price (at path; node its mapping) converted to runes, once
 * pairs are read; reports a currency that does not reach runes. */
void limitr__price_to_runes(compiler *cc, const char *path,
                            const doc_node *node, lp_price *price);
void limitr__price_free(lp_price *price);
/* Once credits and pairs are read: prices converted to runes, and every
 * pair and price currency checked to reach runes (docs/policy.md 8). */
void limitr__exchange_finish(compiler *cc, const doc_node *policy);
void limitr__exchange_free(lp_policy *p);

#endif
