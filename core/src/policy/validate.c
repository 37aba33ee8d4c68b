/* validate.c: collecting validation errors, sorted by position, into one
 * message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

/* Copies src into dst (size bytes) with control characters escaped, so
 * that text quoted from the document can never break the one-error-per-line
 * format. */
static void escape_controls(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    for (; *src != '\0' && n + 5 < size; src++) {
        unsigned char c = (unsigned char)*src;
        if (c == '\n') {
            dst[n++] = '\\';
            dst[n++] = 'n';
        } else if (c == '\t') {
            dst[n++] = '\\';
            dst[n++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)snprintf(dst + n, size - n, "\\x%02x", c);
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n] = '\0';
}

void limitr__verr(verrors *v, const char *path, int line, int col,
                  const char *fmt, ...)
{
    char raw[512], problem[1024], *text;
    size_t need;
    va_list ap;
    if (v->nomem) return;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    escape_controls(problem, sizeof problem, raw);
    need = strlen(path) + strlen(problem) + 40;
    text = malloc(need);
    if (text == NULL) {
        v->nomem = 1;
        return;
    }
    if (line > 0)
        snprintf(text, need, "%s: %s at %d:%d", path, problem, line, col);
    else
        snprintf(text, need, "%s: %s", path, problem);
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        verror *grown = realloc(v->items, cap * sizeof *grown);
        if (grown == NULL) {
            free(text);
            v->nomem = 1;
            return;
        }
        v->items = grown;
        v->cap = cap;
    }
    v->items[v->n].line = line;
    v->items[v->n].col = col;
    v->items[v->n].seq = v->n;
    v->items[v->n].text = text;
    v->n++;
}

static int by_position(const void *a, const void *b)
{
    const verror *x = a, *y = b;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void limitr__verr_free(verrors *v)
{
    size_t i;
    for (i = 0; i < v->n; i++)
        free(v->items[i].text);
    free(v->items);
    memset(v, 0, sizeof *v);
}

char *limitr__verr_join(verrors *v)
{
    size_t i, shown, total = 64;
    char *out, *p;
    if (v->nomem) {
        limitr__verr_free(v);
        return NULL;
    }
    qsort(v->items, v->n, sizeof *v->items, by_position);
    shown = v->n < LIMITR_DEFAULT_MAX_ERRORS ? v->n : LIMITR_DEFAULT_MAX_ERRORS;
    for (i = 0; i < shown; i++)
        total += strlen(v->items[i].text) + 1;
    out = p = malloc(total);
    if (out != NULL) {
        *p = '\0';
        for (i = 0; i < shown; i++) {
            size_t len = strlen(v->items[i].text);
            if (i > 0) *p++ = '\n';
            memcpy(p, v->items[i].text, len + 1);
            p += len;
        }
        if (v->n > shown)
            snprintf(p, 64, "\n... and %zu more errors", v->n - shown);
    }
    limitr__verr_free(v);
    return out;
}
