/* Must not build: the script layer is a leaf. */
#include "policy.h"
