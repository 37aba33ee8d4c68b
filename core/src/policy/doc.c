/* doc.c: the document tree shared by the YAML and JSON parsers: building,
 * freeing, lookup, error paths and error messages (docs/policy.md section 13).
 */
#include "doc.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Growable string (paths and messages only) ---- */

typedef struct sbuf {
    char *p;
    size_t len;
    size_t cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Returns the built string, or NULL (and frees it) when a step failed. */
static char *sb_done(sbuf *b)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (b->p == NULL) sb_add(b, "", 0);
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    return b->p;
}

/* JSON string escaping without the quotes; UTF-8 passes through. */
static void sb_escaped(sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        switch (c) {
        case '"':
            sb_add(b, "\\\"", 2);
            break;
        case '\\':
            sb_add(b, "\\\\", 2);
            break;
        case '\b':
            sb_add(b, "\\b", 2);
            break;
        case '\f':
            sb_add(b, "\\f", 2);
            break;
        case '\n':
            sb_add(b, "\\n", 2);
            break;
        case '\r':
            sb_add(b, "\\r", 2);
            break;
        case '\t':
            sb_add(b, "\\t", 2);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)c);
                sb_str(b, tmp);
            } else {
                sb_add(b, (const char *)&s[i], 1);
            }
        }
    }
}

char *limitr__doc_escape(const char *s, size_t len)
{
    sbuf b = {0};
    sb_escaped(&b, s, len);
    return sb_done(&b);
}

/* ---- Paths ---- */

static int is_root_path(const char *parent)
{
    return parent == NULL || parent[0] == '\0' ||
           strcmp(parent, "(document)") == 0;
}

static int is_plain_key(const char *key, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

char *limitr__doc_path_append(const char *parent, const char *key,
                              size_t key_len)
{
    sbuf b = {0};
    /* The root and the `policy` value both have children written bare:
     * paths start below the root mapping (docs/policy.md section 13). */
    int bare = is_root_path(parent) || strcmp(parent, "policy") == 0;

    if (!bare) sb_str(&b, parent);
    if (is_plain_key(key, key_len)) {
        if (!bare) sb_add(&b, ".", 1);
        sb_add(&b, key, key_len);
    } else {
        sb_add(&b, "[\"", 2);
        sb_escaped(&b, key, key_len);
        sb_add(&b, "\"]", 2);
    }
    return sb_done(&b);
}

char *limitr__doc_path_index(const char *parent, size_t i)
{
    sbuf b = {0};
    char tmp[32];

    if (!is_root_path(parent)) sb_str(&b, parent);
    snprintf(tmp, sizeof tmp, "[%zu]", i);
    sb_str(&b, tmp);
    return sb_done(&b);
}

/* The path of segs[0..n) built with the exported rules, so the parsers
 * and the validator always agree. NULL when out of memory. */
static char *segs_path(const limitr__doc_seg *segs, size_t n)
{
    char *path = NULL;

    if (n == 0) {
        sbuf b = {0};
        sb_str(&b, "(document)");
        return sb_done(&b);
    }
    for (size_t i = 0; i < n; i++) {
        char *next = segs[i].key ? limitr__doc_path_append(path, segs[i].key,
                                                           segs[i].key_len)
                                 : limitr__doc_path_index(path, segs[i].index);
        free(path);
        if (next == NULL) return NULL;
        path = next;
    }
    return path;
}

int limitr__doc_error(char **err, const limitr__doc_seg *segs, size_t n,
                      int line, int col, const char *fmt, ...)
{
    char *path = segs_path(segs, n);
    char *msg = NULL;
    va_list ap;
    int len;

    *err = NULL;
    if (path == NULL) return -1;
    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len >= 0 && (msg = malloc((size_t)len + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)len + 1, fmt, ap);
        va_end(ap);

        sbuf b = {0};
        char at[48];
        sb_str(&b, path);
        sb_add(&b, ": ", 2);
        sb_str(&b, msg);
        if (line > 0) {
            snprintf(at, sizeof at, " at %d:%d", line, col);
            sb_str(&b, at);
        }
        *err = sb_done(&b);
    }
    free(msg);
    free(path);
    return -1;
}

/* ---- Nodes ---- */

doc_node *limitr__doc_new(doc_type type, int line, int col)
{
    doc_node *node = calloc(1, sizeof *node);
    if (node == NULL) return NULL;
    node->type = type;
    node->line = line;
    node->col = col;
    return node;
}

int limitr__doc_set_text(doc_node *node, const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) return -1;
    if (len > 0) memcpy(copy, s, len);
    copy[len] = '\0';
    free(node->text);
    node->text = copy;
    node->text_len = len;
    return 0;
}

int limitr__doc_set_number(doc_node *node, const char *text, size_t len)
{
    /* strtod honours the locale's decimal point, so it is fed digits and
     * an exponent only: "-12.5e3" becomes "-125e2". */
    size_t i = 0, cap = len + 32;
    long long exp = 0, adjust = 0;
    int exp_neg = 0;
    char *buf = malloc(cap), *p = buf;
    double value;

    if (buf == NULL) return -1;
    if (i < len && (text[i] == '-' || text[i] == '+')) *p++ = text[i++];
    while (i < len && text[i] >= '0' && text[i] <= '9')
        *p++ = text[i++];
    if (i < len && text[i] == '.') {
        i++;
        while (i < len && text[i] >= '0' && text[i] <= '9') {
            *p++ = text[i++];
            adjust--;
        }
    }
    if (p == buf || (p == buf + 1 && (buf[0] == '-' || buf[0] == '+')))
        *p++ = '0';
    if (i < len && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        if (i < len && (text[i] == '-' || text[i] == '+'))
            exp_neg = text[i++] == '-';
        while (i < len && text[i] >= '0' && text[i] <= '9') {
            if (exp < 1000000000LL) /* saturate: strtod gives 0 or inf */
                exp = exp * 10 + (text[i] - '0');
            i++;
        }
    }
    exp = (exp_neg ? -exp : exp) + adjust;
    snprintf(p, cap - (size_t)(p - buf), "e%lld", exp);
    value = strtod(buf, NULL);
    free(buf);
    if (!isfinite(value)) return 1;
    if (limitr__doc_set_text(node, text, len) != 0) return -1;
    node->type = DOC_NUMBER;
    node->number = value;
    return 0;
}

/* The new capacity when an array of `count` elements is full, else 0:
 * capacities run 4, 8, 16, ... so no capacity field is needed. */
static size_t grow_to(size_t count)
{
    if (count == 0) return 4;
    if (count >= 4 && (count & (count - 1)) == 0) return count * 2;
    return 0;
}

int limitr__doc_list_push(doc_node *list, doc_node *item)
{
    size_t cap = grow_to(list->count);
    if (cap != 0) {
        doc_node **items;
        if (cap > SIZE_MAX / sizeof *items) return -1;
        items = realloc(list->items, cap * sizeof *items);
        if (items == NULL) return -1;
        list->items = items;
    }
    list->items[list->count++] = item;
    return 0;
}

/* FNV-1a mixed with a per-set seed, so crafted colliding keys are
 * unlikely to degrade a big map to quadratic time. */
static size_t key_hash(size_t seed, const char *key, size_t len)
{
    uint64_t h = 14695981039346656037ULL ^ (uint64_t)seed;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 29;
    return (size_t)h;
}

static int keyset_insert(limitr__doc_keyset *set, const doc_node *map,
                         size_t index)
{
    const doc_pair *pair = &map->pairs[index];
    size_t mask = set->cap - 1;
    size_t h = key_hash(set->seed, pair->key, pair->key_len) & mask;
    while (set->slots[h] != 0) {
        const doc_pair *other = &map->pairs[set->slots[h] - 1];
        if (other->key_len == pair->key_len &&
            memcmp(other->key, pair->key, pair->key_len) == 0)
            return 1;
        h = (h + 1) & mask;
    }
    set->slots[h] = index + 1;
    return 0;
}

/* Rebuilds the set with room for the map's pairs at load <= 1/2. */
static int keyset_grow(limitr__doc_keyset *set, const doc_node *map)
{
    size_t cap = set->cap ? set->cap * 2 : 32;
    size_t *slots;
    while (cap < (map->count + 1) * 2)
        cap *= 2;
    slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return -1;
    free(set->slots);
    set->slots = slots;
    set->cap = cap;
    if (set->seed == 0)
        set->seed = (size_t)(uintptr_t)set ^ (size_t)(uintptr_t)map;
    for (size_t i = 0; i < map->count; i++)
        keyset_insert(set, map, i);
    return 0;
}

int limitr__doc_map_add(doc_node *map, limitr__doc_keyset *set, char *key,
                        size_t key_len, int line, int col)
{
    doc_pair *pair;

    if (map->count < 8) { /* small maps: a linear scan is cheaper */
        for (size_t i = 0; i < map->count; i++)
            if (map->pairs[i].key_len == key_len &&
                memcmp(map->pairs[i].key, key, key_len) == 0)
                return 1;
    } else {
        if ((map->count + 1) * 2 > set->cap && keyset_grow(set, map) != 0)
            return -1;
        size_t mask = set->cap - 1;
        size_t h = key_hash(set->seed, key, key_len) & mask;
        while (set->slots[h] != 0) {
            const doc_pair *other = &map->pairs[set->slots[h] - 1];
            if (other->key_len == key_len &&
                memcmp(other->key, key, key_len) == 0)
                return 1;
            h = (h + 1) & mask;
        }
    }
    size_t cap = grow_to(map->count);
    if (cap != 0) {
        doc_pair *pairs;
        if (cap > SIZE_MAX / sizeof *pairs) return -1;
        pairs = realloc(map->pairs, cap * sizeof *pairs);
        if (pairs == NULL) return -1;
        map->pairs = pairs;
    }
    pair = &map->pairs[map->count];
    pair->key = key;
    pair->key_len = key_len;
    pair->key_line = line;
    pair->key_col = col;
    pair->value = NULL;
    map->count++;
    if (set->cap != 0) keyset_insert(set, map, map->count - 1);
    return 0;
}

void limitr__doc_keyset_free(limitr__doc_keyset *set)
{
    free(set->slots);
    set->slots = NULL;
    set->cap = 0;
}

void limitr__doc_free(doc_node *node)
{
    if (node == NULL) return;
    /* Recursion is bounded: the parsers cap nesting at 32 levels. */
    for (size_t i = 0; i < node->count; i++) {
        if (node->type == DOC_MAP) {
            free(node->pairs[i].key);
            limitr__doc_free(node->pairs[i].value);
        } else if (node->type == DOC_LIST) {
            limitr__doc_free(node->items[i]);
        }
    }
    free(node->pairs);
    free(node->items);
    free(node->text);
    free(node);
}

const doc_pair *limitr__doc_get(const doc_node *map, const char *key)
{
    size_t len;

    if (map == NULL || map->type != DOC_MAP || key == NULL) return NULL;
    len = strlen(key);
    for (size_t i = 0; i < map->count; i++)
        if (map->pairs[i].key_len == len &&
            memcmp(map->pairs[i].key, key, len) == 0)
            return &map->pairs[i];
    return NULL;
}

static doc_node *parse_format(const char *text, size_t len, const char *format,
                              char **err)
{
    *err = NULL;
    if (text == NULL) len = 0;
    if (len > LIMITR_DEFAULT_MAX_DOCUMENT) {
        limitr__doc_error(err, NULL, 0, 0, 0, "document larger than %u MiB",
                          (unsigned)(LIMITR_DEFAULT_MAX_DOCUMENT >> 20));
        return NULL;
    }
    if (text == NULL) text = "";
    if (format != NULL && strcmp(format, "yaml") == 0)
        return limitr__doc_parse_yaml(text, len, err);
    if (format != NULL && strcmp(format, "json") == 0)
        return limitr__doc_parse_json(text, len, err);
    limitr__doc_error(err, NULL, 0, 0, 0,
                      "unknown document format '%s' (use yaml or json)",
                      format ? format : "(null)");
    return NULL;
}

doc_node *limitr__doc_parse(const char *text, size_t len, const char *format,
                            char **err)
{
    char *unused = NULL;
    doc_node *root;

    if (err == NULL) /* tolerated: the message is dropped */
        err = &unused;
    root = parse_format(text, len, format, err);
    free(unused);
    return root;
}
