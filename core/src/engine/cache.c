/* cache.c: what this process derives from customer records (resolved plan,
 * scope owner, period ends), one entry per customer slot, each valid while
 * the state's epoch is unchanged. Kept beside the engine, not in the state:
 * another process sharing the state has its own. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

customer_cache *limitr__cache_grow(limitr_engine *e, const customer *c)
{
    size_t n = e->n_caches ? e->n_caches : 64, i;
    customer_cache *grown;
    while (n <= c->slot)
        n *= 2;
    grown = realloc(e->caches, n * sizeof *grown);
    if (grown == NULL) return NULL;
    for (i = e->n_caches; i < n; i++)
        grown[i].epoch = 0;
    e->caches = grown;
    e->n_caches = n;
    return limitr__cache_of(e, c);
}
