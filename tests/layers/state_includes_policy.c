/* Must not build: the state layer cannot see the compiled policy. */
#include "policy.h"
