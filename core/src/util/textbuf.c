/* textbuf.c: see textbuf.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textbuf.h"

/* Room for `more` bytes and the NUL after them; -1: out of memory. */
static int room_for(textbuf *b, size_t more)
{
    size_t cap;
    char *grown;
    if (b->nomem) return -1;
    if (b->n + more + 1 <= b->cap) return 0;
    cap = b->cap ? b->cap : 4096;
    while (cap < b->n + more + 1)
        cap *= 2;
    if ((grown = realloc(b->s, cap)) == NULL) {
        b->nomem = 1;
        return -1;
    }
    b->s = grown;
    b->cap = cap;
    return 0;
}

void limitr__tb_put(textbuf *b, const char *s, size_t len)
{
    if (room_for(b, len) != 0) return;
    memcpy(b->s + b->n, s, len);
    b->n += len;
    b->s[b->n] = '\0';
}

void limitr__tb_put_z(textbuf *b, const char *s, size_t len)
{
    if (room_for(b, len + 1) != 0) return;
    memcpy(b->s + b->n, s, len);
    b->s[b->n + len] = '\0';
    b->n += len + 1;
    b->s[b->n] = '\0';
}

void limitr__tb_puts(textbuf *b, const char *s)
{
    limitr__tb_put(b, s, strlen(s));
}

void limitr__tb_string(textbuf *b, const char *s, size_t len)
{
    size_t i, from = 0;
    limitr__tb_put(b, "\"", 1);
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        if (ch != '"' && ch != '\\' && ch >= 0x20) continue;
        limitr__tb_put(b, s + from, i - from);
        from = i + 1;
        switch (ch) {
        case '"':
            limitr__tb_put(b, "\\\"", 2);
            break;
        case '\\':
            limitr__tb_put(b, "\\\\", 2);
            break;
        case '\n':
            limitr__tb_put(b, "\\n", 2);
            break;
        case '\r':
            limitr__tb_put(b, "\\r", 2);
            break;
        case '\t':
            limitr__tb_put(b, "\\t", 2);
            break;
        case '\b':
            limitr__tb_put(b, "\\b", 2);
            break;
        case '\f':
            limitr__tb_put(b, "\\f", 2);
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            limitr__tb_put(b, esc, 6);
        }
    }
    limitr__tb_put(b, s + from, len - from);
    limitr__tb_put(b, "\"", 1);
}

void limitr__tb_int(textbuf *b, int64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)v);
    limitr__tb_puts(b, text);
}

void limitr__tb_double(textbuf *b, double x)
{
    char text[40], digits[24];
    int precision, exp10, n = 0, i;
    const char *p;
    if (x == 0 || !isfinite(x)) { /* callers keep doubles finite */
        limitr__tb_put(b, "0", 1);
        return;
    }
    for (precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*e", precision - 1, x);
        if (strtod(text, NULL) == x) break;
    }
    /* text is [-]d.ddde[+-]xx: its digits and decimal exponent */
    p = text;
    if (*p == '-') {
        limitr__tb_put(b, "-", 1);
        p++;
    }
    for (; *p != 'e'; p++)
        if (*p != '.') digits[n++] = *p;
    exp10 = atoi(p + 1);
    while (n > 1 && digits[n - 1] == '0')
        n--;
    if (exp10 < 0) { /* 0.000ddd */
        limitr__tb_put(b, "0.", 2);
        for (i = -1; i > exp10; i--)
            limitr__tb_put(b, "0", 1);
        limitr__tb_put(b, digits, (size_t)n);
    } else if (exp10 + 1 >= n) { /* ddd000 */
        limitr__tb_put(b, digits, (size_t)n);
        for (i = n; i <= exp10; i++)
            limitr__tb_put(b, "0", 1);
    } else { /* dd.ddd */
        limitr__tb_put(b, digits, (size_t)exp10 + 1);
        limitr__tb_put(b, ".", 1);
        limitr__tb_put(b, digits + exp10 + 1, (size_t)(n - exp10 - 1));
    }
}

char *limitr__tb_take(textbuf *b, size_t *len)
{
    char *s = b->s;
    if (b->nomem || s == NULL) {
        free(b->s);
        b->s = NULL;
        if (!b->nomem && (s = malloc(1)) != NULL) { /* nothing was put */
            s[0] = '\0';
            *len = 0;
            return s;
        }
        return NULL;
    }
    *len = b->n;
    b->s = NULL;
    b->n = b->cap = 0;
    return s;
}

void limitr__tb_free(textbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->n = b->cap = 0;
}
