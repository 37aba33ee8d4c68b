/* Must not build: the policy layer cannot see the engine. */
#include "engine.h"
