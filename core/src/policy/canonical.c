/* canonical.c: the canonical JSON text of a policy document. Recursion is
 * bounded by the parsers' depth limit (LIMITR_DEFAULT_MAX_DEPTH). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "sha256.h"

typedef struct text_buf {
    char *s;
    size_t n, cap;
    int nomem;
} text_buf;

static void put(text_buf *b, const char *s, size_t len)
{
    if (b->nomem) return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *grown;
        while (cap < b->n + len + 1)
            cap *= 2;
        if ((grown = realloc(b->s, cap)) == NULL) {
            b->nomem = 1;
            return;
        }
        b->s = grown;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, len);
    b->n += len;
    b->s[b->n] = '\0';
}

static void put_string(text_buf *b, const char *s, size_t len)
{
    size_t i, from = 0;
    put(b, "\"", 1);
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        if (ch != '"' && ch != '\\' && ch >= 0x20) continue;
        put(b, s + from, i - from);
        from = i + 1;
        switch (ch) {
        case '"':
            put(b, "\\\"", 2);
            break;
        case '\\':
            put(b, "\\\\", 2);
            break;
        case '\n':
            put(b, "\\n", 2);
            break;
        case '\r':
            put(b, "\\r", 2);
            break;
        case '\t':
            put(b, "\\t", 2);
            break;
        case '\b':
            put(b, "\\b", 2);
            break;
        case '\f':
            put(b, "\\f", 2);
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            put(b, esc, 6);
        }
    }
    put(b, s + from, len - from);
    put(b, "\"", 1);
}

static void put_number(text_buf *b, double x)
{
    char text[32];
    int precision;
    if (x == 0) x = 0; /* never -0 */
    if (x == floor(x) && fabs(x) < 9007199254740992.0) {
        snprintf(text, sizeof text, "%.0f", x);
    } else {
        for (precision = 1; precision <= 17; precision++) {
            snprintf(text, sizeof text, "%.*g", precision, x);
            if (strtod(text, NULL) == x) break;
        }
    }
    put(b, text, strlen(text));
}

/* Where a map sits, for the one null that is not dropped. */
enum { AT_OTHER, AT_PLANS, AT_PLAN, AT_ENTITLEMENTS };

static void put_node(text_buf *b, const doc_node *n, int at)
{
    size_t i;
    int first = 1;
    switch (n->type) {
    case DOC_NULL:
        put(b, "null", 4);
        break;
    case DOC_BOOL:
        put(b, n->boolean ? "true" : "false", n->boolean ? 4 : 5);
        break;
    case DOC_NUMBER:
        put_number(b, n->number);
        break;
    case DOC_STRING:
        put_string(b, n->text, n->text_len);
        break;
    case DOC_LIST:
        put(b, "[", 1);
        for (i = 0; i < n->count; i++) {
            if (i > 0) put(b, ",", 1);
            put_node(b, n->items[i], AT_OTHER);
        }
        put(b, "]", 1);
        break;
    case DOC_MAP:
        put(b, "{", 1);
        for (i = 0; i < n->count; i++) {
            const doc_pair *pair = &n->pairs[i];
            int child = AT_OTHER;
            if (pair->value->type == DOC_NULL && at != AT_ENTITLEMENTS)
                continue;
            if (!first) put(b, ",", 1);
            first = 0;
            put_string(b, pair->key, pair->key_len);
            put(b, ":", 1);
            if (pair->value->type == DOC_NULL) { /* a bare entitlement */
                put(b, "{}", 2);
                continue;
            }
            if (at == AT_PLANS)
                child = AT_PLAN;
            else if (at == AT_PLAN && strcmp(pair->key, "entitlements") == 0)
                child = AT_ENTITLEMENTS;
            else if (at == AT_OTHER && strcmp(pair->key, "plans") == 0)
                child = AT_PLANS;
            put_node(b, pair->value, child);
        }
        put(b, "}", 1);
        break;
    }
}

char *limitr__doc_canonical(const doc_node *root, size_t *len)
{
    text_buf b = {NULL, 0, 0, 0};
    put_node(&b, root, AT_OTHER);
    if (b.nomem) {
        free(b.s);
        return NULL;
    }
    *len = b.n;
    return b.s;
}

void limitr__fingerprint_of(const char *text, size_t len, char out[72])
{
    memcpy(out, "sha256:", 7);
    limitr__sha256_hex(text, len, out + 7);
}
