/* estimate.c: lists of learned estimates (docs/engine.md 18), in the
 * state's memory. */
#include <string.h>

#include "state.h"

estimate *limitr__estimate_find(const estimate_list *l, int ent, int segment)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        if (l->items[i].ent == ent && l->items[i].segment == segment)
            return &l->items[i];
    return NULL;
}

estimate *limitr__estimate_add(state *st, estimate_list *l, int ent,
                               int segment)
{
    estimate *x;
    if (l->n >= MAX_ESTIMATES) return NULL;
    if (limitr__st_grow(st, (void **)&l->items, l->n, &l->cap, sizeof *l->items,
                        4) != 0)
        return NULL;
    x = &l->items[l->n++];
    memset(x, 0, sizeof *x);
    x->ent = ent;
    x->segment = segment;
    x->alpha = 0.1;
    return x;
}

void limitr__estimate_list_free(state *st, estimate_list *l)
{
    limitr__st_free(st, l->items, l->cap * sizeof *l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}
