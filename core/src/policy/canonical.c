/* canonical.c: the canonical JSON text of a policy document. Recursion is
 * bounded by the parsers' depth limit (LIMITR_DEFAULT_MAX_DEPTH). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "sha256.h"
#include "textbuf.h"

static void put_number(textbuf *b, double x)
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
    limitr__tb_put(b, text, strlen(text));
}

/* Where a map sits, for the one null that is not dropped. */
enum { AT_OTHER, AT_PLANS, AT_PLAN, AT_ENTITLEMENTS };

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
            put_number(b, n->number);
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
            if (pair->value->type == DOC_NULL && at != AT_ENTITLEMENTS)
                continue;
            if (!first) limitr__tb_put(b, ",", 1);
            first = 0;
            limitr__tb_string(b, pair->key, pair->key_len);
            limitr__tb_put(b, ":", 1);
            if (!raw &&
                pair->value->type == DOC_NULL) { /* a bare entitlement */
                limitr__tb_put(b, "{}", 2);
                continue;
            }
            if (at == AT_PLANS)
                child = AT_PLAN;
            else if (at == AT_PLAN && strcmp(pair->key, "entitlements") == 0)
                child = AT_ENTITLEMENTS;
            else if (at == AT_OTHER && strcmp(pair->key, "plans") == 0)
                child = AT_PLANS;
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
