/* names.c: what every message about a name uses: did-you-mean suggestions
 * and the policy name rule. */
#include <string.h>

#include "names.h"

/* Optimal string alignment distance, capped: returns limit + 1 when above. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb,
                            size_t limit)
{
    size_t rows[3][65], i, j;
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    if (la > 64 || lb > 64) return limit + 1;
    if ((la > lb ? la - lb : lb - la) > limit) return limit + 1;
    for (j = 0; j <= lb; j++)
        prev[j] = j;
    for (i = 1; i <= la; i++) {
        size_t *t;
        cur[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t d = prev[j] + 1;
            if (cur[j - 1] + 1 < d) d = cur[j - 1] + 1;
            if (prev[j - 1] + cost < d) d = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
        }
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *limitr__did_you_mean(const char *word,
                                 const char *const *candidates, size_t n)
{
    size_t len = strlen(word), limit = len / 3, best_d, i;
    const char *best = NULL;
    if (limit < 1) limit = 1;
    best_d = limit + 1;
    for (i = 0; i < n; i++) {
        size_t d;
        if (candidates[i] == NULL) continue;
        d = edit_distance(word, len, candidates[i], strlen(candidates[i]),
                          limit);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

int limitr__valid_name(const char *s, size_t len)
{
    size_t i;
    if (len < 1 || len > 64) return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int limitr__utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p++, cp, n, i;
        if (c < 0x80) continue;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0; /* a continuation byte, or 0xC0, 0xC1, 0xF5-0xFF */
        }
        if ((size_t)(end - p) < n) return 0;
        for (i = 0; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        p += n;
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return 0;
    }
    return 1;
}
