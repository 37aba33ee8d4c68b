/* hash.h: the string hash and equality every lookup uses (customer IDs,
 * names). Inline because allow() runs them on every call: fixed-size loads
 * compile to plain moves, where memcpy/memcmp of a variable length would be
 * library calls. */
#ifndef LIMITR_HASH_H
#define LIMITR_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t hash_load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t hash_load4(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* 64x64 -> 128 bit multiply folded to 64 bits: one instruction on x86-64
 * and arm64, and every input bit reaches every output bit. */
static inline uint64_t hash_fold(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#define HASH_K0 0xa0761d6478bd642full
#define HASH_K1 0xe7037ed1a0b428dbull
#define HASH_K2 0x8ebc6af09c88c6e3ull

/* Reads each byte once, 16 at a time; short tails use overlapping loads
 * instead of byte loops. */
static inline uint64_t limitr_hash(const char *s, size_t len)
{
    uint64_t seed = HASH_K0 ^ (uint64_t)len * HASH_K2, a, b;
    if (len <= 16) {
        if (len >= 8) {
            a = hash_load8(s);
            b = hash_load8(s + len - 8);
        } else if (len >= 4) {
            a = hash_load4(s);
            b = hash_load4(s + len - 4);
        } else if (len > 0) {
            a = ((uint64_t)(unsigned char)s[0] << 16) |
                ((uint64_t)(unsigned char)s[len >> 1] << 8) |
                (unsigned char)s[len - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = len;
        const char *p = s;
        while (i > 16) {
            seed = hash_fold(hash_load8(p) ^ HASH_K1, hash_load8(p + 8) ^ seed);
            p += 16;
            i -= 16;
        }
        a = hash_load8(s + len - 16);
        b = hash_load8(s + len - 8);
    }
    return hash_fold(HASH_K1 ^ (uint64_t)len, hash_fold(a ^ HASH_K1, b ^ seed));
}

/* Equal bytes, for the short strings of IDs and names. */
static inline int limitr_bytes_equal(const char *a, const char *b, size_t len)
{
    size_t i = 0;
    if (len >= 8) {
        for (; i + 8 <= len; i += 8)
            if (hash_load8(a + i) != hash_load8(b + i)) return 0;
        return hash_load8(a + len - 8) == hash_load8(b + len - 8);
    }
    if (len >= 4)
        return hash_load4(a) == hash_load4(b) &&
               hash_load4(a + len - 4) == hash_load4(b + len - 4);
    for (; i < len; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

#endif
