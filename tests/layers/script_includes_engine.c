/* Must not build: the script layer is a leaf; it reaches the engine only
 * through script_host. */
#include "engine.h"
