/* state.c: the state's life cycle, its memory (all of it from the home's
 * allocator) and its interned names. */
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

state *limitr__state_open(const state_home *home)
{
    state_home h = {limitr__heap_realloc, NULL, NULL, NULL};
    state *st;
    if (home != NULL && home->realloc != NULL) h = *home;
    st = h.realloc(h.ud, NULL, 0, sizeof *st);
    if (st == NULL) return NULL;
    memset(st, 0, sizeof *st);
    st->home = h;
    st->epoch = 1;
    return st;
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
    if (st == NULL) return;
    for (i = 0; i < st->customers.cap; i++) {
        customer *c = limitr__idmap_at(&st->customers, i);
        if (c != NULL) limitr__customer_destroy(st, c);
    }
    limitr__idmap_free(st, &st->customers);
    limitr__idmap_free(st, &st->alt_ids);
    for (i = 0; i < st->names.n; i++)
        limitr__st_free(st, st->names.items[i], st->names.lens[i] + 1);
    limitr__st_free(st, st->names.items, st->names.cap * sizeof(char *));
    limitr__st_free(st, st->names.lens, st->names.cap * sizeof(size_t));
    limitr__st_free(st, st->free_slots,
                    st->cap_free_slots * sizeof *st->free_slots);
    limitr__st_free(st, st, sizeof *st);
}

/* ---- Names ---- */

/* Names are few (a policy's entitlements and credits) and interned only
 * when an engine starts or an override is set: a scan is enough. */
int limitr__state_name_find(const state *st, const char *name, size_t len)
{
    size_t i;
    for (i = 0; i < st->names.n; i++)
        if (st->names.lens[i] == len &&
            memcmp(st->names.items[i], name, len) == 0)
            return (int)i;
    return -1;
}

int limitr__state_intern(state *st, const char *name, size_t len)
{
    name_table *t = &st->names;
    int found = limitr__state_name_find(st, name, len);
    char *copy;
    if (found >= 0) return found;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **items = limitr__st_alloc(st, cap * sizeof *items);
        size_t *lens = limitr__st_alloc(st, cap * sizeof *lens);
        if (items == NULL || lens == NULL) {
            limitr__st_free(st, items, cap * sizeof *items);
            limitr__st_free(st, lens, cap * sizeof *lens);
            return -1;
        }
        if (t->n) {
            memcpy(items, t->items, t->n * sizeof *items);
            memcpy(lens, t->lens, t->n * sizeof *lens);
        }
        limitr__st_free(st, t->items, t->cap * sizeof *t->items);
        limitr__st_free(st, t->lens, t->cap * sizeof *t->lens);
        t->items = items;
        t->lens = lens;
        t->cap = cap;
    }
    if ((copy = limitr__st_strdup(st, name, len)) == NULL) return -1;
    t->items[t->n] = copy;
    t->lens[t->n] = len;
    return (int)t->n++;
}
