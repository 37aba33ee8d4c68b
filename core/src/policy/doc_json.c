/* doc_json.c: strict RFC 8259 JSON to document tree; our own small parser
 * because cJSON reports neither positions nor duplicate keys. */
#include "doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jparser {
    const unsigned char *s;
    size_t len;
    size_t pos;
    size_t mark;  /* line:col below are those of byte offset mark */
    size_t start; /* first byte after an optional BOM */
    int line;
    int col;
    char **err;
    limitr__doc_seg segs[LIMITR_DEFAULT_MAX_DEPTH + 1];
    size_t nsegs;
} jparser;

/* Line and column (characters) of byte offset off. Offsets asked for only
 * grow during a parse, so the total work stays linear. */
static void where(jparser *p, size_t off, int *line, int *col)
{
    if (off < p->mark) {
        p->mark = p->start;
        p->line = 1;
        p->col = 1;
    }
    for (; p->mark < off; p->mark++) {
        unsigned char c = p->s[p->mark];
        if (c == '\n' || (c == '\r' && (p->mark + 1 >= p->len ||
                                        p->s[p->mark + 1] != '\n'))) {
            p->line++;
            p->col = 1;
        } else if ((c & 0xC0) != 0x80) {
            p->col++;
        }
    }
    *line = p->line;
    *col = p->col;
}

static int syntax_error(jparser *p, size_t off, const char *msg)
{
    int line, col;
    where(p, off, &line, &col);
    return limitr__doc_error(p->err, NULL, 0, line, col,
                             "JSON syntax error: %s", msg);
}

/* Length of the valid UTF-8 sequence at s[i], 0 if invalid (overlong
 * forms, surrogates and values above U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t len, size_t i,
                       unsigned long *cp)
{
    unsigned char c = s[i];
    size_t n;
    unsigned long v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len - i < n) return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i + k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return n;
}

/* "unexpected character 'x'" (or U+XXXX) at p->pos. */
static int unexpected(jparser *p, const char *after)
{
    char msg[80];
    unsigned long cp;

    if (p->pos >= p->len)
        return syntax_error(p, p->pos, "unexpected end of input");
    if (p->s[p->pos] == '/')
        return syntax_error(p, p->pos, "comments are not allowed");
    if (utf8_len(p->s, p->len, p->pos, &cp) == 0)
        return syntax_error(p, p->pos, "invalid UTF-8");
    if (cp > 0x20 && cp < 0x7F)
        snprintf(msg, sizeof msg, "unexpected character '%c'%s", (int)cp,
                 after);
    else
        snprintf(msg, sizeof msg, "unexpected character U+%04lX%s", cp, after);
    return syntax_error(p, p->pos, msg);
}

static void skip_ws(jparser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int hex4(const unsigned char *s, unsigned long *out)
{
    unsigned long v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned long)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *d, unsigned long cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    } else if (cp < 0x800) {
        d[0] = (char)(0xC0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    } else if (cp < 0x10000) {
        d[0] = (char)(0xE0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses the string whose opening quote is at p->pos into a malloc'ed,
 * NUL-terminated buffer (*out, *out_len). 0, or -1 with the error set. */
static int parse_string(jparser *p, char **out, size_t *out_len)
{
    size_t open = p->pos, end = p->pos + 1, n = 0;
    char *buf;

    /* Find the closing quote first: the decoded text is never longer. */
    while (end < p->len && p->s[end] != '"')
        end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len) return syntax_error(p, open, "unterminated string");
    buf = malloc(end - open);
    if (buf == NULL) {
        *p->err = NULL;
        return -1;
    }
    p->pos = open + 1;
    while (p->pos < end) {
        unsigned char c = p->s[p->pos];
        unsigned long cp, lo;
        size_t k;

        if (c == '\\') {
            unsigned char e = p->s[p->pos + 1];
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e != '\0' && simple != NULL) {
                buf[n++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
                p->pos += 2;
                continue;
            }
            if (e != 'u') {
                free(buf);
                return syntax_error(p, p->pos, "invalid escape");
            }
            if (end - p->pos < 6 || hex4(p->s + p->pos + 2, &cp) != 0) {
                free(buf);
                return syntax_error(p, p->pos, "invalid \\u escape");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* A high surrogate needs its low half: \uD83D\uDE00. */
                if (end - p->pos < 12 || p->s[p->pos + 6] != '\\' ||
                    p->s[p->pos + 7] != 'u' ||
                    hex4(p->s + p->pos + 8, &lo) != 0 || lo < 0xDC00 ||
                    lo > 0xDFFF) {
                    free(buf);
                    return syntax_error(p, p->pos, "unpaired surrogate");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p->pos += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(buf);
                return syntax_error(p, p->pos, "unpaired surrogate");
            }
            n += put_utf8(buf + n, cp);
            p->pos += 6;
            continue;
        }
        if (c < 0x20) {
            free(buf);
            return syntax_error(p, p->pos,
                                "control character in string (use an "
                                "escape)");
        }
        k = utf8_len(p->s, end, p->pos, &cp);
        if (k == 0) {
            free(buf);
            return syntax_error(p, p->pos, "invalid UTF-8");
        }
        memcpy(buf + n, p->s + p->pos, k);
        n += k;
        p->pos += k;
    }
    buf[n] = '\0';
    p->pos = end + 1;
    *out = buf;
    *out_len = n;
    return 0;
}

/* Error for a string holding U+0000, which C strings cannot carry. */
static int nul_error(jparser *p, size_t off)
{
    int line, col;
    where(p, off, &line, &col);
    return limitr__doc_error(p->err, p->segs, p->nsegs, line, col,
                             "string contains a NUL character");
}

static int parse_value(jparser *p, int depth, doc_node **out);

static int parse_number(jparser *p, doc_node *node)
{
    size_t start = p->pos, i = p->pos;
    int rc;

    if (i < p->len && p->s[i] == '-') i++;
    if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
        return syntax_error(p, start, "invalid number");
    if (p->s[i] == '0' && i + 1 < p->len && p->s[i + 1] >= '0' &&
        p->s[i + 1] <= '9')
        return syntax_error(p, start, "leading zeros are not allowed");
    while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
        i++;
    if (i < p->len && p->s[i] == '.') {
        i++;
        if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
            return syntax_error(p, start, "invalid number");
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
            return syntax_error(p, start, "invalid number");
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
    }
    p->pos = i;
    rc = limitr__doc_set_number(node, (const char *)p->s + start, i - start);
    if (rc < 0) {
        *p->err = NULL;
        return -1;
    }
    if (rc > 0)
        return limitr__doc_error(p->err, p->segs, p->nsegs, node->line,
                                 node->col, "expected a finite number");
    return 0;
}

/* true, false, null; any other word (NaN, Infinity, True) is an error. */
static int parse_word(jparser *p, doc_node *node)
{
    size_t start = p->pos, i = p->pos;
    char msg[64];

    while (i < p->len && ((p->s[i] >= 'a' && p->s[i] <= 'z') ||
                          (p->s[i] >= 'A' && p->s[i] <= 'Z') ||
                          (p->s[i] >= '0' && p->s[i] <= '9') || p->s[i] == '_'))
        i++;
    if (i - start == 4 && memcmp(p->s + start, "true", 4) == 0) {
        node->type = DOC_BOOL;
        node->boolean = 1;
    } else if (i - start == 5 && memcmp(p->s + start, "false", 5) == 0) {
        node->type = DOC_BOOL;
    } else if (i - start == 4 && memcmp(p->s + start, "null", 4) == 0) {
        node->type = DOC_NULL;
    } else {
        snprintf(msg, sizeof msg, "invalid literal '%.*s'%s",
                 (int)(i - start > 20 ? 20 : i - start), p->s + start,
                 i - start > 20 ? "..." : "");
        return syntax_error(p, start, msg);
    }
    p->pos = i;
    return 0;
}

/* Checks the depth before descending, so deep input cannot exhaust the
 * C stack (docs/policy.md section 13, docs/sandbox.md section 7). */
static int enter(jparser *p, int depth, int line, int col)
{
    if (depth + 1 > LIMITR_DEFAULT_MAX_DEPTH)
        return limitr__doc_error(p->err, p->segs, p->nsegs, line, col,
                                 "nesting deeper than %d levels",
                                 LIMITR_DEFAULT_MAX_DEPTH);
    return 0;
}

static int parse_object(jparser *p, int depth, doc_node *map)
{
    limitr__doc_keyset set = {0};
    int rc = -1;

    p->pos++; /* '{' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len = 0, key_at;
        int line, col, added;
        doc_node *value;

        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"') {
            if (p->pos < p->len && p->s[p->pos] == '}')
                syntax_error(p, p->pos, "trailing comma is not allowed");
            else
                unexpected(p, ", expected a string key");
            goto out;
        }
        key_at = p->pos;
        where(p, key_at, &line, &col);
        if (parse_string(p, &key, &key_len) != 0) goto out;
        if (memchr(key, '\0', key_len) != NULL) {
            p->segs[p->nsegs] = (limitr__doc_seg){key, key_len, 0};
            p->nsegs++;
            nul_error(p, key_at);
            p->nsegs--;
            free(key);
            goto out;
        }
        added = limitr__doc_map_add(map, &set, key, key_len, line, col);
        if (added != 0) {
            if (added > 0) {
                char *shown = limitr__doc_escape(key, key_len);
                if (shown != NULL)
                    limitr__doc_error(p->err, p->segs, p->nsegs, line, col,
                                      "duplicate key '%s'", shown);
                else
                    *p->err = NULL;
                free(shown);
            } else {
                *p->err = NULL;
            }
            free(key);
            goto out;
        }
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':') {
            unexpected(p, ", expected ':'");
            goto out;
        }
        p->pos++;
        skip_ws(p);
        p->segs[p->nsegs] = (limitr__doc_seg){key, key_len, 0};
        p->nsegs++;
        rc = parse_value(p, depth, &value);
        p->nsegs--;
        if (rc != 0) goto out;
        rc = -1;
        map->pairs[map->count - 1].value = value;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == '}') {
            p->pos++;
            break;
        }
        unexpected(p, ", expected ',' or '}'");
        goto out;
    }
    rc = 0;
out:
    limitr__doc_keyset_free(&set);
    return rc;
}

static int parse_array(jparser *p, int depth, doc_node *list)
{
    p->pos++; /* '[' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        return 0;
    }
    for (;;) {
        doc_node *item;
        int rc;

        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ']')
            return syntax_error(p, p->pos, "trailing comma is not allowed");
        p->segs[p->nsegs] = (limitr__doc_seg){NULL, 0, list->count};
        p->nsegs++;
        rc = parse_value(p, depth, &item);
        p->nsegs--;
        if (rc != 0) return -1;
        if (limitr__doc_list_push(list, item) != 0) {
            limitr__doc_free(item);
            *p->err = NULL;
            return -1;
        }
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ']') {
            p->pos++;
            return 0;
        }
        return unexpected(p, ", expected ',' or ']'");
    }
}

/* Parses the value at p->pos (whitespace skipped) inside `depth`
 * collections. 0 with *out set, or -1 with the error set. */
static int parse_value(jparser *p, int depth, doc_node **out)
{
    doc_node *node;
    int line, col, rc;
    unsigned char c;

    *out = NULL;
    if (p->pos >= p->len)
        return syntax_error(p, p->pos, "unexpected end of input");
    c = p->s[p->pos];
    where(p, p->pos, &line, &col);
    if ((c == '{' || c == '[') && enter(p, depth, line, col) != 0) return -1;
    node = limitr__doc_new(DOC_NULL, line, col);
    if (node == NULL) {
        *p->err = NULL;
        return -1;
    }
    if (c == '{') {
        node->type = DOC_MAP;
        rc = parse_object(p, depth + 1, node);
    } else if (c == '[') {
        node->type = DOC_LIST;
        rc = parse_array(p, depth + 1, node);
    } else if (c == '"') {
        size_t at = p->pos;
        rc = parse_string(p, &node->text, &node->text_len);
        if (rc == 0) {
            node->type = DOC_STRING;
            if (memchr(node->text, '\0', node->text_len) != NULL)
                rc = nul_error(p, at);
        }
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        rc = parse_number(p, node);
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        rc = parse_word(p, node);
    } else {
        if (c == ']' || c == '}')
            rc = syntax_error(p, p->pos,
                              c == ']' ? "unexpected ']'" : "unexpected '}'");
        else
            rc = unexpected(p, "");
    }
    if (rc != 0) {
        limitr__doc_free(node);
        return -1;
    }
    *out = node;
    return 0;
}

doc_node *limitr__doc_parse_json(const char *text, size_t len, char **err)
{
    jparser p;
    doc_node *root = NULL;

    memset(&p, 0, sizeof p);
    p.s = (const unsigned char *)text;
    p.len = len;
    p.err = err;
    p.line = 1;
    p.col = 1;
    *err = NULL;
    /* RFC 8259 section 8.1: a parser may ignore a byte order mark. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        p.pos = p.mark = p.start = 3;
    skip_ws(&p);
    if (p.pos >= p.len) /* empty: the validator reports the missing root */
        return limitr__doc_new(DOC_NULL, 0, 0);
    if (parse_value(&p, 0, &root) != 0) return NULL;
    skip_ws(&p);
    if (p.pos < p.len) {
        unexpected(&p, " after the document");
        limitr__doc_free(root);
        return NULL;
    }
    return root;
}
