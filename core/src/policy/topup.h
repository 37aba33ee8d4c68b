/* topup.h: compiling top-ups and the refill fields a host-made grant
 * shares with them (topup.c). */
#ifndef LIMITR_TOPUP_H
#define LIMITR_TOPUP_H

#include "compile.h"

/* The refill fields of map n (resets, reset_inc, reset_sch, reset_mode,
 * rollover_min / _max / _pct, max_balance, reset_catchup_cap) into *rule;
 * amounts in `credit`'s units (AMOUNT_PLAIN: a currency). */
void limitr__grant_rule_compile(compiler *cc, const doc_node *n,
                                const char *path, int credit, grant_rule *rule);
/* A top-up mapping at path into *t (named name). */
void limitr__topup_compile(compiler *cc, const doc_node *n, const char *path,
                           const char *name, lp_topup *t);
void limitr__topup_free(lp_topup *t);

#endif
