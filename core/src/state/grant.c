/* grant.c: a customer's grants (docs/engine.md 15) and the included
 * top-ups it received, in the state's memory. */
#include <string.h>

#include "state.h"

grant *limitr__grant_find(const customer *c, const char *id)
{
    size_t i, len = strlen(id);
    for (i = 0; i < c->n_grants; i++)
        if (c->grants[i].id_len == len && memcmp(c->grants[i].id, id, len) == 0)
            return &c->grants[i];
    return NULL;
}

int limitr__grant_reserve(state *st, customer *c)
{
    return limitr__st_grow(st, (void **)&c->grants, c->n_grants, &c->cap_grants,
                           sizeof *c->grants, 1);
}

int limitr__grant_add(state *st, customer *c, const grant *g)
{
    char *id;
    if (limitr__grant_reserve(st, c) != 0) return -1;
    if ((id = limitr__st_strdup(st, g->id, g->id_len)) == NULL) return -1;
    c->grants[c->n_grants] = *g;
    c->grants[c->n_grants].id = id;
    c->n_grants++;
    return 0;
}

void limitr__grant_remove_at(state *st, customer *c, size_t i)
{
    limitr__held_free(st, &c->grants[i].held);
    limitr__st_free(st, c->grants[i].id, c->grants[i].id_len + 1);
    memmove(&c->grants[i], &c->grants[i + 1],
            (c->n_grants - i - 1) * sizeof *c->grants);
    c->n_grants--;
}

int limitr__included_has(const customer *c, int key)
{
    size_t i;
    for (i = 0; i < c->n_included; i++)
        if (c->included[i] == key) return 1;
    return 0;
}

int limitr__included_add(state *st, customer *c, int key)
{
    if (limitr__included_has(c, key)) return 0;
    if (limitr__st_grow(st, (void **)&c->included, c->n_included,
                        &c->cap_included, sizeof *c->included, 4) != 0)
        return -1;
    c->included[c->n_included++] = key;
    return 0;
}

void limitr__included_clear(customer *c)
{
    c->n_included = 0;
}
