/* Must not build: the state layer cannot see the engine. */
#include "engine.h"
