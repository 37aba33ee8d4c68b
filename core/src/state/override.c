/* override.c: a customer's stored overrides (docs/engine.md section 7), one per
 * entitlement, kept as their fields. */
#include <string.h>

#include "state.h"

override *limitr__override_find(const customer *c, int ent)
{
    size_t i;
    for (i = 0; i < c->n_overrides; i++)
        if (c->overrides[i].ent == ent) return &c->overrides[i];
    return NULL;
}

int limitr__override_put(state *st, customer *c, const override *ov)
{
    override *slot = limitr__override_find(c, ov->ent);
    if (slot == NULL) {
        if (c->n_overrides == c->cap_overrides) {
            size_t cap = c->cap_overrides ? c->cap_overrides * 2 : 2;
            override *grown = limitr__st_alloc(st, cap * sizeof *grown);
            if (grown == NULL) return -1;
            if (c->n_overrides)
                memcpy(grown, c->overrides, c->n_overrides * sizeof *grown);
            limitr__st_free(st, c->overrides, c->cap_overrides * sizeof *grown);
            c->overrides = grown;
            c->cap_overrides = cap;
        }
        slot = &c->overrides[c->n_overrides++];
    }
    *slot = *ov;
    limitr__state_changed(st); /* limits changed: period caches are stale */
    return 0;
}

void limitr__override_remove(state *st, customer *c, override *ov)
{
    size_t i = (size_t)(ov - c->overrides);
    memmove(&c->overrides[i], &c->overrides[i + 1],
            (c->n_overrides - i - 1) * sizeof *c->overrides);
    c->n_overrides--; /* the array keeps its capacity */
    limitr__state_changed(st);
}
