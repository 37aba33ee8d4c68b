/* idmap.c: the ID -> customer hash maps (primary IDs and alt IDs): open
 * addressing with linear probing on the 64-bit hash, tombstones on removal.
 * Keys are not copied: they point into the customer they map to. */
#include <string.h>

#include "state.h"

customer *limitr__idmap_find(const idmap *m, const char *key, size_t len,
                             uint64_t hash)
{
    size_t mask, i;
    if (m->cap == 0) return NULL;
    mask = m->cap - 1;
    for (i = (size_t)hash & mask;; i = (i + 1) & mask) {
        const idmap_slot *s = &m->slots[i];
        if (s->c == NULL) return NULL;
        if (s->hash == hash && s->c != IDMAP_TOMBSTONE && s->key_len == len &&
            limitr_bytes_equal(s->key, key, len))
            return s->c;
    }
}

/* Rebuilds into cap slots (dropping tombstones). */
static int rehash(state *st, idmap *m, size_t cap)
{
    idmap_slot *slots = limitr__st_alloc(st, cap * sizeof *slots);
    size_t i;
    if (slots == NULL) return -1;
    memset(slots, 0, cap * sizeof *slots);
    for (i = 0; i < m->cap; i++) {
        const idmap_slot *s = &m->slots[i];
        size_t j;
        if (s->c == NULL || s->c == IDMAP_TOMBSTONE) continue;
        for (j = (size_t)s->hash & (cap - 1); slots[j].c != NULL;
             j = (j + 1) & (cap - 1))
            ;
        slots[j] = *s;
    }
    limitr__st_free(st, m->slots, m->cap * sizeof *m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = m->live;
    return 0;
}

int limitr__idmap_reserve(state *st, idmap *m, size_t extra)
{
    size_t cap = m->cap ? m->cap : 64;
    if ((m->used + extra) * 10 <= m->cap * 7) return 0;
    while ((m->live + extra) * 10 > cap * 7)
        cap *= 2;
    /* Mostly tombstones: the same size, rebuilt, is enough. */
    return rehash(st, m, cap);
}

int limitr__idmap_insert(state *st, idmap *m, const char *key, size_t len,
                         uint64_t hash, customer *c)
{
    size_t i;
    if (limitr__idmap_reserve(st, m, 1) != 0) return -1;
    for (i = (size_t)hash & (m->cap - 1);
         m->slots[i].c != NULL && m->slots[i].c != IDMAP_TOMBSTONE;
         i = (i + 1) & (m->cap - 1))
        ;
    if (m->slots[i].c == NULL) m->used++;
    limitr__st_save(st, &m->slots[i], sizeof m->slots[i]);
    m->slots[i].hash = hash;
    m->slots[i].key = key;
    m->slots[i].key_len = len;
    m->slots[i].c = c;
    m->live++;
    return 0;
}

void limitr__idmap_remove(state *st, idmap *m, const char *key, size_t len,
                          uint64_t hash)
{
    size_t i;
    if (m->cap == 0) return;
    for (i = (size_t)hash & (m->cap - 1); m->slots[i].c != NULL;
         i = (i + 1) & (m->cap - 1)) {
        idmap_slot *s = &m->slots[i];
        if (s->c != IDMAP_TOMBSTONE && s->hash == hash && s->key_len == len &&
            limitr_bytes_equal(s->key, key, len)) {
            limitr__st_save(st, &s->c, sizeof s->c);
            s->c = IDMAP_TOMBSTONE;
            m->live--;
            return;
        }
    }
}

customer *limitr__idmap_at(const idmap *m, size_t i)
{
    customer *c = m->slots[i].c;
    return c == IDMAP_TOMBSTONE ? NULL : c;
}

void limitr__idmap_free(state *st, idmap *m)
{
    limitr__st_free(st, m->slots, m->cap * sizeof *m->slots);
    memset(m, 0, sizeof *m);
}
