/* limit_rule.h: the numbers and switches of a limit (docs/policy.md section 6),
 * with nothing that points into a policy or a Lua VM. A compiled policy
 * limit is built from one, and a customer's override keeps one in the
 * customer state. */
#ifndef LIMITR_LIMIT_RULE_H
#define LIMITR_LIMIT_RULE_H

#include <stdint.h>

#include "num.h"
#include "schedule.h"

typedef enum limit_mode { MODE_HARD, MODE_SOFT, MODE_OBSERVE } limit_mode;

extern const char *const limitr__mode_names[3]; /* "hard", "soft", ... */

typedef enum reset_kind {
    RESET_NONE,
    RESET_INTERVAL, /* reset_inc */
    RESET_SCHEDULE  /* reset_sch */
} reset_kind;

typedef struct limit_rule {
    lnum value;     /* allowance per period, credit units */
    lnum increment; /* amount of increment/decrement, > 0 */
    limit_mode mode;
    int has_minimum;
    lnum minimum; /* floor of the meter */
    int hard_trailing;
    int grants_apply;
    reset_kind reset;
    int64_t reset_inc; /* ms, RESET_INTERVAL */
    lp_schedule sch;   /* RESET_SCHEDULE */
    int governor;
    lnum governor_capacity;
    double governor_refill_rate; /* tokens per ms */
    double ewma_alpha;
} limit_rule;

#endif
