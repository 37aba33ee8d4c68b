/* state.c: the state's life cycle, its memory (all of it from the home's
 * allocator) and its interned names. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

void *limitr__heap_realloc(void *ud, void *ptr, size_t old_size,
                           size_t new_size)
{
    (void)ud;
    (void)old_size;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size);
}

int limitr__state_open(state *st, const state_home *home)
{
    state_home h = {limitr__heap_realloc, NULL, NULL};
    if (home != NULL && home->realloc != NULL) h = *home;
    st->home = h;
    st->d = h.realloc(h.ud, NULL, 0, sizeof *st->d);
    if (st->d == NULL) return -1;
    memset(st->d, 0, sizeof *st->d);
    st->d->epoch = 1;
    return 0;
}

void *limitr__st_alloc(state *st, size_t size)
{
    return st->home.realloc(st->home.ud, NULL, 0, size);
}

void limitr__st_free(state *st, void *p, size_t size)
{
    if (p != NULL) st->home.realloc(st->home.ud, p, size, 0);
}

char *limitr__st_strdup(state *st, const char *s, size_t len)
{
    char *copy = limitr__st_alloc(st, len + 1);
    if (copy == NULL) return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

void limitr__st_strfree(state *st, char *s)
{
    if (s != NULL) limitr__st_free(st, s, strlen(s) + 1);
}

void limitr__state_close(state *st)
{
    size_t i;
    if (st->d == NULL) return;
    for (i = 0; i < st->d->customers.cap; i++) {
        customer *c = limitr__idmap_at(&st->d->customers, i);
        if (c != NULL) limitr__customer_destroy(st, c);
    }
    limitr__idmap_free(st, &st->d->customers);
    limitr__idmap_free(st, &st->d->alt_ids);
    limitr__estimate_list_free(st, &st->d->estimates);
    for (i = 0; i < st->d->names.n; i++)
        limitr__st_free(st, st->d->names.items[i], st->d->names.lens[i] + 1);
    limitr__st_free(st, st->d->names.items, st->d->names.cap * sizeof(char *));
    limitr__st_free(st, st->d->names.lens, st->d->names.cap * sizeof(size_t));
    limitr__st_free(st, st->d->names.units, st->d->names.cap * sizeof(int));
    limitr__st_free(st, st->d->names.index,
                    st->d->names.index_cap * sizeof(int));
    limitr__st_free(st, st->d->free_slots,
                    st->d->cap_free_slots * sizeof *st->d->free_slots);
    limitr__st_free(st, st->d, sizeof *st->d);
    st->d = NULL;
}

/* ---- Names ---- */

int limitr__state_name_find(const state *st, const char *name, size_t len)
{
    const name_table *t = &st->d->names;
    size_t i;
    if (t->index_cap == 0) return -1;
    for (i = (size_t)limitr_hash(name, len) & (t->index_cap - 1);
         t->index[i] != 0; i = (i + 1) & (t->index_cap - 1)) {
        int k = t->index[i] - 1;
        if (t->lens[k] == len && memcmp(t->items[k], name, len) == 0) return k;
    }
    return -1;
}

/* Room in the index for one more name; -1: out of memory (unchanged). */
static int index_reserve(state *st, name_table *t)
{
    size_t cap = t->index_cap ? t->index_cap : 32, i, j;
    int *index;
    if ((t->n + 1) * 2 <= t->index_cap) return 0;
    while ((t->n + 1) * 2 > cap)
        cap *= 2;
    if ((index = limitr__st_alloc(st, cap * sizeof *index)) == NULL) return -1;
    memset(index, 0, cap * sizeof *index);
    for (i = 0; i < t->n; i++) {
        for (j = (size_t)limitr_hash(t->items[i], t->lens[i]) & (cap - 1);
             index[j] != 0; j = (j + 1) & (cap - 1))
            ;
        index[j] = (int)i + 1;
    }
    limitr__st_free(st, t->index, t->index_cap * sizeof *t->index);
    t->index = index;
    t->index_cap = cap;
    return 0;
}

int limitr__state_intern(state *st, const char *name, size_t len)
{
    name_table *t = &st->d->names;
    int found = limitr__state_name_find(st, name, len);
    char *copy;
    size_t i;
    if (found >= 0) return found;
    if (t->n >= INT_MAX - 1 || index_reserve(st, t) != 0) return -1;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **items = limitr__st_alloc(st, cap * sizeof *items);
        size_t *lens = limitr__st_alloc(st, cap * sizeof *lens);
        int *units = limitr__st_alloc(st, cap * sizeof *units);
        if (items == NULL || lens == NULL || units == NULL) {
            limitr__st_free(st, items, cap * sizeof *items);
            limitr__st_free(st, lens, cap * sizeof *lens);
            limitr__st_free(st, units, cap * sizeof *units);
            return -1;
        }
        if (t->n) {
            memcpy(items, t->items, t->n * sizeof *items);
            memcpy(lens, t->lens, t->n * sizeof *lens);
            memcpy(units, t->units, t->n * sizeof *units);
        }
        limitr__st_free(st, t->items, t->cap * sizeof *t->items);
        limitr__st_free(st, t->lens, t->cap * sizeof *t->lens);
        limitr__st_free(st, t->units, t->cap * sizeof *t->units);
        t->items = items;
        t->lens = lens;
        t->units = units;
        t->cap = cap;
    }
    if ((copy = limitr__st_strdup(st, name, len)) == NULL) return -1;
    t->items[t->n] = copy;
    t->lens[t->n] = len;
    t->units[t->n] = UNITS_UNKNOWN;
    for (i = (size_t)limitr_hash(name, len) & (t->index_cap - 1);
         t->index[i] != 0; i = (i + 1) & (t->index_cap - 1))
        ;
    limitr__st_save(st, &t->index[i], sizeof t->index[i]);
    t->index[i] = (int)t->n + 1;
    return (int)t->n++;
}

int limitr__st_grow(state *st, void **items, size_t n, size_t *cap, size_t size,
                    size_t first)
{
    size_t more;
    void *grown;
    if (n < *cap) return 0;
    more = *cap ? *cap * 2 : first;
    if ((grown = limitr__st_alloc(st, more * size)) == NULL) return -1;
    if (n) memcpy(grown, *items, n * size);
    limitr__st_free(st, *items, *cap * size);
    *items = grown;
    *cap = more;
    return 0;
}
