/* hold.c: a customer's reservations (docs/engine.md 19), in the state's
 * memory. */
#include <string.h>

#include "state.h"

reservation *limitr__hold_find(const customer *c, uint64_t id)
{
    size_t i;
    for (i = 0; i < c->n_holds; i++)
        if (c->holds[i].id == id) return &c->holds[i];
    return NULL;
}

int limitr__hold_add(state *st, customer *c, const reservation *h)
{
    if (limitr__st_grow(st, (void **)&c->holds, c->n_holds, &c->cap_holds,
                        sizeof *c->holds, 2) != 0)
        return -1;
    c->holds[c->n_holds++] = *h;
    return 0;
}

void limitr__hold_parts_free(state *st, hold_part *parts, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        limitr__st_strfree(st, parts[i].holder);
        limitr__st_strfree(st, parts[i].id);
    }
    limitr__st_free(st, parts, n * sizeof *parts);
}

void limitr__hold_remove_at(state *st, customer *c, size_t i)
{
    limitr__hold_parts_free(st, c->holds[i].parts, c->holds[i].n_parts);
    limitr__st_strfree(st, c->holds[i].segment);
    memmove(&c->holds[i], &c->holds[i + 1],
            (c->n_holds - i - 1) * sizeof *c->holds);
    c->n_holds--;
}

lnum limitr__held_sum(const held_list *l, int64_t now)
{
    lnum sum = 0;
    size_t i;
    for (i = 0; i < l->n; i++)
        if (now < l->items[i].expires &&
            lnum_add(sum, l->items[i].amount, &sum) != 0)
            sum = LNUM_MAX;
    return sum;
}

int limitr__held_add(state *st, held_list *l, uint64_t hold, int64_t expires,
                     lnum amount)
{
    if (limitr__st_grow(st, (void **)&l->items, l->n, &l->cap, sizeof *l->items,
                        2) != 0)
        return -1;
    l->items[l->n].hold = hold;
    l->items[l->n].expires = expires;
    l->items[l->n].amount = amount;
    l->n++;
    return 0;
}

void limitr__held_drop(held_list *l, uint64_t hold)
{
    size_t i = l->n;
    while (i-- > 0)
        if (l->items[i].hold == hold) {
            l->items[i] = l->items[l->n - 1];
            l->n--;
        }
}

void limitr__held_free(state *st, held_list *l)
{
    limitr__st_free(st, l->items, l->cap * sizeof *l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

hold_part *limitr__hold_part_new(state *st, hold_part **parts, size_t *n)
{
    /* exactly n: the array is freed by its count (hold_parts_free) */
    hold_part *grown = limitr__st_alloc(st, (*n + 1) * sizeof *grown);
    if (grown == NULL) return NULL;
    if (*n) memcpy(grown, *parts, *n * sizeof *grown);
    limitr__st_free(st, *parts, *n * sizeof *grown);
    *parts = grown;
    memset(&grown[*n], 0, sizeof *grown);
    return &grown[(*n)++];
}
