/* limit_rule.c: the names of a limit's modes, in limit_mode order. */
#include "limit_rule.h"

const char *const limitr__mode_names[3] = {"hard", "soft", "observe"};
