/* bare_map.h: the baseline of the allow benchmarks: a minimal
 * open-addressing map (customer id, entitlement) -> counter, what a host
 * would write by hand. Shared by bench_allow.c (C) and ffi_counter.c (the
 * LuaJIT FFI baseline). */
#ifndef LIMITR_BARE_MAP_H
#define LIMITR_BARE_MAP_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Plain static functions, as the baseline always was (inline would change
 * what the compiler makes of it); some go unused in each file. */
#define BARE_FN static __attribute__((unused))

typedef struct bare_slot {
    uint64_t hash;
    const char *id; /* NULL: empty */
    const char *ent;
    size_t id_len;
    size_t ent_len;
    uint64_t count;
} bare_slot;

typedef struct bare_map {
    bare_slot *slots;
    size_t cap; /* power of two */
    size_t used;
} bare_map;

/* A plain word-at-a-time multiply/xor-shift hash of one string. */
BARE_FN uint64_t bare_hash(const char *s, size_t len, uint64_t h)
{
    const uint64_t k = 0x9E3779B97F4A7C15ull;
    uint64_t w;
    h ^= len * k;
    for (; len >= 8; s += 8, len -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    if (len > 0) { /* the last 1-7 bytes, little-endian */
        size_t j;
        w = 0;
        for (j = 0; j < len; j++)
            w |= (uint64_t)(unsigned char)s[j] << (8 * j);
        h = (h ^ w) * k;
    }
    return h;
}

/* The key "customer id + entitlement": both strings feed one hash. */
BARE_FN uint64_t bare_key_hash(const char *id, size_t id_len, const char *ent,
                              size_t ent_len)
{
    uint64_t h = bare_hash(ent, ent_len, bare_hash(id, id_len, 0x243F6A88ull));
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
}

/* The slot of (id, ent): the match, or the empty slot where it would go. */
BARE_FN bare_slot *bare_find(const bare_map *m, const char *id, size_t id_len,
                            const char *ent, size_t ent_len, uint64_t h)
{
    size_t mask = m->cap - 1, i;
    for (i = (size_t)h & mask;; i = (i + 1) & mask) {
        bare_slot *s = &m->slots[i];
        if (s->id == NULL) return s;
        if (s->hash == h && s->id_len == id_len && s->ent_len == ent_len &&
            memcmp(s->id, id, id_len) == 0 && memcmp(s->ent, ent, ent_len) == 0)
            return s;
    }
}

BARE_FN void bare_grow(bare_map *m)
{
    bare_map bigger;
    size_t i;
    bigger.cap = m->cap ? m->cap * 2 : 64;
    bigger.used = 0;
    bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
    if (bigger.slots == NULL) {
        fprintf(stderr, "bare_map: out of memory\n");
        exit(1);
    }
    for (i = 0; i < m->cap; i++)
        if (m->slots[i].id != NULL) {
            bare_slot *s = &m->slots[i];
            *bare_find(&bigger, s->id, s->id_len, s->ent, s->ent_len, s->hash) =
                *s;
            bigger.used++;
        }
    free(m->slots);
    *m = bigger;
}

/* Adds the key with a zero counter (the strings must outlive the map). The
 * map grows past 70% full, as limitr's customer map does. */
BARE_FN void bare_put(bare_map *m, const char *id, const char *ent)
{
    size_t id_len = strlen(id), ent_len = strlen(ent);
    uint64_t h = bare_key_hash(id, id_len, ent, ent_len);
    bare_slot *s;
    if ((m->used + 1) * 10 > m->cap * 7) bare_grow(m);
    s = bare_find(m, id, id_len, ent, ent_len, h);
    if (s->id != NULL) return;
    s->hash = h;
    s->id = id;
    s->ent = ent;
    s->id_len = id_len;
    s->ent_len = ent_len;
    s->count = 0;
    m->used++;
}

/* The hot path the baseline stands for: hash, find, compare, increment.
 * Returns 1 when counted, as limitr_allow returns LIMITR_OK (0). */
BARE_FN int bare_incr(bare_map *m, const char *id, const char *ent)
{
    size_t id_len = strlen(id), ent_len = strlen(ent);
    bare_slot *s = bare_find(m, id, id_len, ent, ent_len,
                             bare_key_hash(id, id_len, ent, ent_len));
    if (s->id == NULL) return 0;
    s->count++;
    return 1;
}

#endif
