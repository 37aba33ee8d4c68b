/* Must not build: the policy layer cannot see customer state. */
#include "state.h"
