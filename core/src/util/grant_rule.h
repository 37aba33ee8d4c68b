/* grant_rule.h: how a grant refills (docs/policy.md 7, docs/engine.md
 * 15.1): its period, its reset mode and the clamps of a rollover. Plain
 * numbers, so that a top-up in a compiled policy and a grant in customer
 * state share it without pointing at each other. */
#ifndef LIMITR_GRANT_RULE_H
#define LIMITR_GRANT_RULE_H

#include <stdint.h>

#include "limit_rule.h"
#include "num.h"
#include "schedule.h"

typedef enum grant_reset_mode {
    GRANT_RESET_HARD,    /* back to the refill */
    GRANT_RESET_ADD,     /* the refill added to the balance */
    GRANT_RESET_ROLLOVER /* a part of the balance carried, plus the refill */
} grant_reset_mode;

extern const char *const limitr__grant_reset_mode_names[3];

/* The most reset steps applied at once, whatever reset_catchup_cap says:
 * a bound on the work of one catch-up after a long idle (add and hard
 * modes do any number of steps in one). */
#define GRANT_MAX_RESET_STEPS 10000

typedef struct grant_rule {
    reset_kind reset;  /* RESET_NONE: the grant never refills */
    int64_t reset_inc; /* ms, RESET_INTERVAL */
    lp_schedule sch;   /* RESET_SCHEDULE */
    grant_reset_mode mode;
    int has_rollover_min, has_rollover_max, has_rollover_pct, has_max_balance;
    lnum rollover_min, rollover_max;
    lnum rollover_pct; /* in [0, 1] */
    lnum max_balance;
    int64_t catchup_cap; /* most steps at once; -1: all */
} grant_rule;

/* The rule of a grant that never resets. */
void limitr__grant_rule_none(grant_rule *r);

/* How many period boundaries lie in (last, now], at most `most`, and the
 * latest of them in *latest (untouched when none). */
int64_t limitr__grant_boundaries(const grant_rule *r, int64_t last, int64_t now,
                                 int64_t most, int64_t *latest);

/* The balance after `steps` reset steps from balance b with refill v
 * (docs/policy.md 7). Saturates at the range of amounts. */
lnum limitr__grant_reset(const grant_rule *r, lnum b, lnum v, int64_t steps);

#endif
