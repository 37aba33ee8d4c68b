/* canonical.c: the canonical JSON text of a policy document. Recursion is
 * bounded by the parsers' depth limit (LIMITR_DEFAULT_MAX_DEPTH). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "sha256.h"
#include "textbuf.h"

/* A number as the exact decimal its source text writes, spelled one way:
 * no exponent while the point is within 21 digits (100.0, 1e2 and 100 are
 * all "100"), else d.ddde<N>. Exact, unlike its double: the compiler reads
 * amounts from the text, so 100000000000000001 stays itself. */
static void put_number(textbuf *b, const char *text)
{
    char digits[128], out[192];
    size_t n = 0, i, o = 0;
    long point = 0, exp10 = 0;
    int seen_point = 0, negative = 0;
    const char *p = text;
    if (*p == '-' || *p == '+') negative = *p++ == '-';
    for (; *p != '\0' && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') {
            seen_point = 1;
            continue;
        }
        if (n == 0 && *p == '0') { /* leading zeros move the point only */
            if (seen_point) point--;
            continue;
        }
        if (n < sizeof digits) digits[n++] = *p;
        if (!seen_point) point++;
    }
    if (*p == 'e' || *p == 'E') {
        exp10 = strtol(p + 1, NULL, 10);
        if (exp10 > 100000) exp10 = 100000; /* finite doubles stay far below */
        if (exp10 < -100000) exp10 = -100000;
    }
    while (n > 0 && digits[n - 1] == '0')
        n--;
    if (n == 0) {
        limitr__tb_put(b, "0", 1);
        return;
    }
    point += exp10; /* the value is 0.<digits> x 10^point */
    if (negative) out[o++] = '-';
    if (point > 21 || point < -6) {
        out[o++] = digits[0];
        if (n > 1) out[o++] = '.';
        for (i = 1; i < n; i++)
            out[o++] = digits[i];
        o += (size_t)snprintf(out + o, sizeof out - o, "e%ld", point - 1);
    } else if (point <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (i = 0; i < (size_t)-point; i++)
            out[o++] = '0';
        for (i = 0; i < n; i++)
            out[o++] = digits[i];
    } else {
        for (i = 0; i < (size_t)point; i++)
            out[o++] = i < n ? digits[i] : '0';
        if (n > (size_t)point) {
            out[o++] = '.';
            for (i = (size_t)point; i < n; i++)
                out[o++] = digits[i];
        }
    }
    limitr__tb_put(b, out, o);
}

/* Where a map sits, for the one null that is not dropped. */
enum { AT_OTHER, AT_CREDITS, AT_PLANS, AT_PLAN, AT_ENTITLEMENTS };

/* Maps whose entries may be null (every default): written {}. */
static int entry_map(int at)
{
    return at == AT_CREDITS || at == AT_PLANS || at == AT_ENTITLEMENTS;
}

static void put_node(textbuf *b, const doc_node *n, int at, int raw)
{
    size_t i;
    int first = 1;
    switch (n->type) {
    case DOC_NULL:
        limitr__tb_put(b, "null", 4);
        break;
    case DOC_BOOL:
        limitr__tb_put(b, n->boolean ? "true" : "false", n->boolean ? 4 : 5);
        break;
    case DOC_NUMBER:
        if (raw)
            limitr__tb_put(b, n->text, n->text_len);
        else
            put_number(b, n->text);
        break;
    case DOC_STRING:
        limitr__tb_string(b, n->text, n->text_len);
        break;
    case DOC_LIST:
        limitr__tb_put(b, "[", 1);
        for (i = 0; i < n->count; i++) {
            if (i > 0) limitr__tb_put(b, ",", 1);
            put_node(b, n->items[i], AT_OTHER, raw);
        }
        limitr__tb_put(b, "]", 1);
        break;
    case DOC_MAP:
        limitr__tb_put(b, "{", 1);
        for (i = 0; i < n->count; i++) {
            const doc_pair *pair = &n->pairs[i];
            int child = AT_OTHER;
            if (!raw && pair->value->type == DOC_NULL && !entry_map(at))
                continue;
            if (!first) limitr__tb_put(b, ",", 1);
            first = 0;
            limitr__tb_string(b, pair->key, pair->key_len);
            limitr__tb_put(b, ":", 1);
            if (!raw &&
                pair->value->type == DOC_NULL) { /* an entry of defaults */
                limitr__tb_put(b, "{}", 2);
                continue;
            }
            if (at == AT_PLANS)
                child = AT_PLAN;
            else if (at == AT_PLAN && strcmp(pair->key, "entitlements") == 0)
                child = AT_ENTITLEMENTS;
            else if (at == AT_OTHER && strcmp(pair->key, "plans") == 0)
                child = AT_PLANS;
            else if (at == AT_OTHER && strcmp(pair->key, "credits") == 0)
                child = AT_CREDITS;
            put_node(b, pair->value, child, raw);
        }
        limitr__tb_put(b, "}", 1);
        break;
    }
}

char *limitr__doc_canonical(const doc_node *root, size_t *len)
{
    textbuf b = {NULL, 0, 0, 0};
    put_node(&b, root, AT_OTHER, 0);
    return limitr__tb_take(&b, len);
}

void limitr__fingerprint_of(const char *text, size_t len, char out[72])
{
    memcpy(out, "sha256:", 7);
    limitr__sha256_hex(text, len, out + 7);
}

char *limitr__doc_json(const doc_node *node, size_t *len)
{
    textbuf b = {NULL, 0, 0, 0};
    put_node(&b, node, AT_OTHER, 1);
    return limitr__tb_take(&b, len);
}
