/* doc_yaml.c: YAML to document tree through libyaml's event API: YAML 1.2
 * core schema, no anchors, aliases or tags but !lua (docs/policy.md 1, 13). */
#include "doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct yparser {
    yaml_parser_t parser;
    yaml_event_t ev; /* the current event, owned while have_ev */
    int have_ev;
    const char *text;
    size_t len;
    char **err;
    limitr__doc_seg segs[LIMITR_DEFAULT_MAX_DEPTH + 1];
    size_t nsegs;
} yparser;

#define LINE(mark) ((int)(mark).line + 1)
#define COL(mark) ((int)(mark).column + 1)

static int oom(yparser *p)
{
    *p->err = NULL;
    return -1;
}

/* Position of byte offset off: libyaml reader errors give only that. */
static void offset_pos(const yparser *p, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < p->len; i++) {
        unsigned char c = (unsigned char)p->text[i];
        if (c == '\n' ||
            (c == '\r' && (i + 1 >= p->len || p->text[i + 1] != '\n'))) {
            (*line)++;
            *col = 1;
        } else if ((c & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

/* Fetches the next event, releasing the current one. */
static int next(yparser *p)
{
    const char *problem;
    int line, col;

    if (p->have_ev) {
        yaml_event_delete(&p->ev);
        p->have_ev = 0;
    }
    if (yaml_parser_parse(&p->parser, &p->ev)) {
        p->have_ev = 1;
        return 0;
    }
    if (p->parser.error == YAML_MEMORY_ERROR) return oom(p);
    problem = p->parser.problem ? p->parser.problem : "invalid document";
    if (p->parser.error == YAML_READER_ERROR) {
        offset_pos(p, p->parser.problem_offset, &line, &col);
    } else {
        line = LINE(p->parser.problem_mark);
        col = COL(p->parser.problem_mark);
    }
    return limitr__doc_error(p->err, NULL, 0, line, col,
                             "YAML syntax error: %s", problem);
}

static int error_at(yparser *p, yaml_mark_t mark, const char *msg)
{
    return limitr__doc_error(p->err, p->segs, p->nsegs, LINE(mark), COL(mark),
                             "%s", msg);
}

/* "YAML tag '!!str' is not allowed", with the standard prefix shortened
 * back to the !! form the author wrote. */
static int tag_error(yparser *p, const yaml_char_t *tag, yaml_mark_t mark)
{
    static const char std[] = "tag:yaml.org,2002:";
    const char *t = (const char *)tag;
    const char *bang = "";
    char *shown;

    if (strncmp(t, std, sizeof std - 1) == 0) {
        t += sizeof std - 1;
        bang = "!!";
    }
    shown = limitr__doc_escape(t, strlen(t));
    if (shown == NULL) return oom(p);
    limitr__doc_error(p->err, p->segs, p->nsegs, LINE(mark), COL(mark),
                      "YAML tag '%s%s' is not allowed", bang, shown);
    free(shown);
    return -1;
}

static int is_lua_tag(const yaml_char_t *tag)
{
    return tag != NULL && strcmp((const char *)tag, "!lua") == 0;
}

/* ---- Core schema (YAML 1.2, section 10.3.2), plain scalars only ---- */

static int is_one_of(const char *s, size_t n, const char *const *words)
{
    for (; *words != NULL; words++)
        if (strlen(*words) == n && memcmp(s, *words, n) == 0) return 1;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Matches [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? and writes
 * the same value in RFC 8259 grammar to out (room for n + 2 bytes):
 * "+007.e3" becomes "7e3", "-.5" becomes "-0.5". */
static int core_decimal(const char *s, size_t n, char *out, size_t *out_len)
{
    size_t i = 0, o = 0, int_start, int_end, frac_start, frac_end;

    if (i < n && (s[i] == '-' || s[i] == '+')) {
        if (s[i] == '-') out[o++] = '-';
        i++;
    }
    int_start = i;
    while (i < n && is_digit(s[i]))
        i++;
    int_end = i;
    frac_start = frac_end = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        frac_end = i;
    }
    if (int_end == int_start && frac_end == frac_start) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = i + 1;
        if (e < n && (s[e] == '-' || s[e] == '+')) e++;
        if (e >= n || !is_digit(s[e])) return 0;
        while (e < n && is_digit(s[e]))
            e++;
        if (e != n) return 0;
    } else if (i != n) {
        return 0;
    }
    while (int_start + 1 < int_end && s[int_start] == '0')
        int_start++;
    if (int_start == int_end) {
        out[o++] = '0';
    } else {
        memcpy(out + o, s + int_start, int_end - int_start);
        o += int_end - int_start;
    }
    if (frac_end > frac_start) {
        out[o++] = '.';
        memcpy(out + o, s + frac_start, frac_end - frac_start);
        o += frac_end - frac_start;
    }
    memcpy(out + o, s + i, n - i); /* exponent, already JSON-shaped */
    o += n - i;
    *out_len = o;
    return 1;
}

/* 0o777 / 0xFF in decimal (out: room for 400 bytes). Returns 1 when
 * matched, 2 when too big for a double (so not finite), 0 otherwise. */
static int core_radix(const char *s, size_t n, char *out, size_t *out_len)
{
    /* base 10^9 limbs, least significant first; 40 limbs > 2^1024 */
    unsigned long limbs[40];
    size_t nlimbs = 1, i, sig = 0;
    unsigned base;
    int max_sig;

    if (n < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'o')) return 0;
    base = s[1] == 'x' ? 16 : 8;
    max_sig = base == 16 ? 256 : 342; /* digits below 2^1024 */
    for (i = 2; i < n; i++) {
        char c = s[i];
        int ok = base == 16 ? (is_digit(c) || (c >= 'a' && c <= 'f') ||
                               (c >= 'A' && c <= 'F'))
                            : (c >= '0' && c <= '7');
        if (!ok) return 0;
    }
    limbs[0] = 0;
    for (i = 2; i < n; i++) {
        char c = s[i];
        unsigned long carry = is_digit(c) ? (unsigned long)(c - '0')
                              : c >= 'a'  ? (unsigned long)(c - 'a' + 10)
                                          : (unsigned long)(c - 'A' + 10);
        if (sig == 0 && carry == 0) continue; /* leading zeros */
        if (++sig > (size_t)max_sig) return 2;
        for (size_t k = 0; k < nlimbs; k++) {
            unsigned long long v = (unsigned long long)limbs[k] * base + carry;
            limbs[k] = (unsigned long)(v % 1000000000ULL);
            carry = (unsigned long)(v / 1000000000ULL);
        }
        if (carry != 0) limbs[nlimbs++] = carry;
    }
    {
        int o = snprintf(out, 400, "%lu", limbs[nlimbs - 1]);
        for (size_t k = nlimbs - 1; k-- > 0;)
            o += snprintf(out + o, 400 - (size_t)o, "%09lu", limbs[k]);
        *out_len = (size_t)o;
    }
    return 1;
}

static const char *const null_words[] = {"~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};
static const char *const inf_words[] = {
    ".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
    "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL};

/* Types a plain scalar's text into node. 0, or -1 with the error set. */
static int resolve_plain(yparser *p, const char *s, size_t n, doc_node *node,
                         yaml_mark_t mark)
{
    char small[400];
    char *num = small;
    size_t num_len = 0;
    int kind, rc;

    if (n == 0 || is_one_of(s, n, null_words)) {
        node->type = DOC_NULL;
        return 0;
    }
    if (is_one_of(s, n, true_words) || is_one_of(s, n, false_words)) {
        node->type = DOC_BOOL;
        node->boolean = s[0] == 't' || s[0] == 'T';
        return 0;
    }
    if (is_one_of(s, n, inf_words))
        return error_at(p, mark, "expected a finite number");
    kind = core_radix(s, n, small, &num_len);
    if (kind == 2) return error_at(p, mark, "expected a finite number");
    if (kind == 0) {
        if (n + 2 > sizeof small && (num = malloc(n + 2)) == NULL)
            return oom(p);
        kind = core_decimal(s, n, num, &num_len);
    }
    if (kind == 0) {
        if (num != small) free(num);
        node->type = DOC_STRING;
        return limitr__doc_set_text(node, s, n) == 0 ? 0 : oom(p);
    }
    rc = limitr__doc_set_number(node, num, num_len);
    if (num != small) free(num);
    if (rc < 0) return oom(p);
    if (rc > 0) return error_at(p, mark, "expected a finite number");
    return 0;
}

/* ---- Tree building ---- */

static int parse_node(yparser *p, int depth, doc_node **out);

/* Anchors, tags and depth of a collection starting at the current event. */
static int check_collection(yparser *p, int depth, const yaml_char_t *anchor,
                            const yaml_char_t *tag)
{
    yaml_mark_t mark = p->ev.start_mark;

    if (anchor != NULL)
        return error_at(p, mark, "YAML anchors and aliases are not allowed");
    if (is_lua_tag(tag))
        return error_at(p, mark, "YAML tag '!lua' is only allowed on a string");
    if (tag != NULL) return tag_error(p, tag, mark);
    /* Checked before descending: deep input cannot exhaust the stack. */
    if (depth + 1 > LIMITR_DEFAULT_MAX_DEPTH) {
        return limitr__doc_error(p->err, p->segs, p->nsegs, LINE(mark),
                                 COL(mark), "nesting deeper than %d levels",
                                 LIMITR_DEFAULT_MAX_DEPTH);
    }
    return 0;
}

/* Reads a mapping key at the current event into a malloc'ed string. */
static int parse_key(yparser *p, char **key, size_t *key_len)
{
    yaml_event_t *ev = &p->ev;
    yaml_mark_t mark = ev->start_mark;
    const char *s;
    size_t n;

    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return error_at(p, mark, "YAML anchors and aliases are not allowed");
    case YAML_SCALAR_EVENT:
        break;
    default:
        if ((ev->type == YAML_MAPPING_START_EVENT &&
             ev->data.mapping_start.anchor != NULL) ||
            (ev->type == YAML_SEQUENCE_START_EVENT &&
             ev->data.sequence_start.anchor != NULL))
            return error_at(p, mark,
                            "YAML anchors and aliases are not allowed");
        return error_at(p, mark, "mapping keys must be strings");
    }
    s = (const char *)ev->data.scalar.value;
    n = ev->data.scalar.length;
    if (ev->data.scalar.anchor != NULL)
        return error_at(p, mark, "YAML anchors and aliases are not allowed");
    if (ev->data.scalar.tag != NULL)
        return tag_error(p, ev->data.scalar.tag, mark);
    /* A plain << is a merge key (YAML 1.1), which works like an alias. */
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && n == 2 &&
        memcmp(s, "<<", 2) == 0)
        return error_at(p, mark, "YAML anchors and aliases are not allowed");
    if (memchr(s, '\0', n) != NULL) {
        int rc;
        p->segs[p->nsegs] = (limitr__doc_seg){s, n, 0};
        p->nsegs++;
        rc = error_at(p, mark, "string contains a NUL character");
        p->nsegs--;
        return rc;
    }
    *key = malloc(n + 1);
    if (*key == NULL) return oom(p);
    memcpy(*key, s, n);
    (*key)[n] = '\0';
    *key_len = n;
    return 0;
}

static int parse_mapping(yparser *p, int depth, doc_node *map)
{
    limitr__doc_keyset set = {0};
    int rc = -1;

    for (;;) {
        char *key = NULL;
        size_t key_len = 0;
        int line, col, added;
        doc_node *value;

        if (next(p) != 0) goto out;
        if (p->ev.type == YAML_MAPPING_END_EVENT) break;
        line = LINE(p->ev.start_mark);
        col = COL(p->ev.start_mark);
        if (parse_key(p, &key, &key_len) != 0) goto out;
        added = limitr__doc_map_add(map, &set, key, key_len, line, col);
        if (added != 0) {
            char *shown = added > 0 ? limitr__doc_escape(key, key_len) : NULL;
            if (shown != NULL)
                limitr__doc_error(p->err, p->segs, p->nsegs, line, col,
                                  "duplicate key '%s'", shown);
            else
                oom(p);
            free(shown);
            free(key);
            goto out;
        }
        if (next(p) != 0) goto out;
        p->segs[p->nsegs] = (limitr__doc_seg){key, key_len, 0};
        p->nsegs++;
        rc = parse_node(p, depth, &value);
        p->nsegs--;
        if (rc != 0) goto out;
        rc = -1;
        map->pairs[map->count - 1].value = value;
    }
    rc = 0;
out:
    limitr__doc_keyset_free(&set);
    return rc;
}

static int parse_sequence(yparser *p, int depth, doc_node *list)
{
    for (;;) {
        doc_node *item;
        int rc;

        if (next(p) != 0) return -1;
        if (p->ev.type == YAML_SEQUENCE_END_EVENT) return 0;
        p->segs[p->nsegs] = (limitr__doc_seg){NULL, 0, list->count};
        p->nsegs++;
        rc = parse_node(p, depth, &item);
        p->nsegs--;
        if (rc != 0) return -1;
        if (limitr__doc_list_push(list, item) != 0) {
            limitr__doc_free(item);
            return oom(p);
        }
    }
}

/* Builds the node whose first event is the current one, inside `depth`
 * collections. 0 with *out set, or -1 with the error set. */
static int parse_node(yparser *p, int depth, doc_node **out)
{
    yaml_event_t *ev = &p->ev;
    yaml_mark_t mark = ev->start_mark;
    doc_node *node;
    int rc;

    *out = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        /* Aliases can expand exponentially ("billion laughs") and libyaml
         * does not bound them (docs/sandbox.md section 7): none at all. */
        return error_at(p, mark, "YAML anchors and aliases are not allowed");
    case YAML_MAPPING_START_EVENT:
        if (check_collection(p, depth, ev->data.mapping_start.anchor,
                             ev->data.mapping_start.tag) != 0)
            return -1;
        break;
    case YAML_SEQUENCE_START_EVENT:
        if (check_collection(p, depth, ev->data.sequence_start.anchor,
                             ev->data.sequence_start.tag) != 0)
            return -1;
        break;
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor != NULL)
            return error_at(p, mark,
                            "YAML anchors and aliases are not allowed");
        if (ev->data.scalar.tag != NULL && !is_lua_tag(ev->data.scalar.tag))
            return tag_error(p, ev->data.scalar.tag, mark);
        if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
            return error_at(p, mark, "string contains a NUL character");
        break;
    default: /* the parser emits nothing else here */
        return error_at(p, mark, "unexpected YAML event");
    }
    node = limitr__doc_new(DOC_NULL, LINE(mark), COL(mark));
    if (node == NULL) return oom(p);
    if (ev->type == YAML_MAPPING_START_EVENT) {
        node->type = DOC_MAP;
        rc = parse_mapping(p, depth + 1, node);
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        node->type = DOC_LIST;
        rc = parse_sequence(p, depth + 1, node);
    } else if (ev->data.scalar.tag == NULL &&
               ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        rc = resolve_plain(p, (const char *)ev->data.scalar.value,
                           ev->data.scalar.length, node, mark);
    } else {
        /* Quoted, block and !lua-tagged scalars are always strings. */
        node->type = DOC_STRING;
        node->lua_tag = ev->data.scalar.tag != NULL;
        rc = limitr__doc_set_text(node, (const char *)ev->data.scalar.value,
                                  ev->data.scalar.length) == 0
                 ? 0
                 : oom(p);
    }
    if (rc != 0) {
        limitr__doc_free(node);
        return -1;
    }
    *out = node;
    return 0;
}

/* Parses the single document of the stream into *root. */
static int parse_stream(yparser *p, doc_node **root)
{
    *root = NULL;
    if (next(p) != 0) /* STREAM-START */
        return -1;
    if (next(p) != 0) return -1;
    if (p->ev.type == YAML_STREAM_END_EVENT) {
        /* empty: the validator reports the missing root */
        *root = limitr__doc_new(DOC_NULL, 0, 0);
        return *root ? 0 : oom(p);
    }
    if (next(p) != 0) /* the root node, after DOCUMENT-START */
        return -1;
    if (parse_node(p, 0, root) != 0) return -1;
    if (next(p) != 0 || next(p) != 0) /* DOCUMENT-END, then what follows */
        goto fail;
    if (p->ev.type == YAML_DOCUMENT_START_EVENT) {
        limitr__doc_error(p->err, NULL, 0, LINE(p->ev.start_mark),
                          COL(p->ev.start_mark),
                          "only one YAML document is allowed");
        goto fail;
    }
    return 0;
fail:
    limitr__doc_free(*root);
    *root = NULL;
    return -1;
}

doc_node *limitr__doc_parse_yaml(const char *text, size_t len, char **err)
{
    yparser p;
    doc_node *root;

    memset(&p, 0, sizeof p);
    p.text = text;
    p.len = len;
    p.err = err;
    *err = NULL;
    if (!yaml_parser_initialize(&p.parser)) return NULL;
    yaml_parser_set_input_string(&p.parser, (const unsigned char *)text, len);
    if (parse_stream(&p, &root) != 0) root = NULL;
    if (p.have_ev) yaml_event_delete(&p.ev);
    yaml_parser_delete(&p.parser);
    return root;
}
