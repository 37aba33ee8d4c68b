/* doc.h: the document tree both policy parsers (YAML, JSON) produce.
 * The validator and compiler read only this tree, so the two formats obey
 * one set of rules; the hot path never sees it. */
#ifndef LIMITR_DOC_H
#define LIMITR_DOC_H

#include <stddef.h>

#ifndef LIMITR_DEFAULT_MAX_DEPTH
#define LIMITR_DEFAULT_MAX_DEPTH 32 /* docs/policy.md section 13 */
#endif
#ifndef LIMITR_DEFAULT_MAX_DOCUMENT
#define LIMITR_DEFAULT_MAX_DOCUMENT (8u * 1024u * 1024u) /* 8 MiB */
#endif

typedef enum doc_type {
    DOC_NULL,
    DOC_BOOL,
    DOC_NUMBER,
    DOC_STRING,
    DOC_MAP,
    DOC_LIST
} doc_type;

typedef struct doc_node doc_node;

typedef struct doc_pair {
    char *key; /* NUL-terminated, owned */
    size_t key_len;
    int key_line; /* 1-based position of the key; 0 = unknown */
    int key_col;
    doc_node *value;
} doc_pair;

struct doc_node {
    doc_type type;
    int line; /* 1-based line:column of the value; 0 = unknown */
    int col;
    int lua_tag;   /* YAML `!lua` tag on this node */
    int boolean;   /* DOC_BOOL */
    double number; /* DOC_NUMBER, as the parser reads it */
    char *text;    /* DOC_NUMBER: the exact value as text in RFC 8259
                      number grammar (JSON: the source text; YAML: the
                      source normalized, 0x/0o written in decimal);
                      DOC_STRING: the string; owned, NUL-terminated */
    size_t text_len;
    doc_pair *pairs;  /* DOC_MAP: in document order */
    doc_node **items; /* DOC_LIST */
    size_t count;     /* pairs or items */
};

/* Parses `text` (len bytes) as YAML (format "yaml") or JSON ("json").
 * On success returns the root node and sets *err to NULL. On failure returns
 * NULL and sets *err to one malloc'ed message line in docs/policy.md section
 * 13's format, e.g. "(document): JSON syntax error: ... at 3:7" or "plans.free:
 * duplicate key 'seats' at 4:5"; the caller frees it. Never prints, exits or
 * aborts. Out of memory: NULL with *err NULL. */
doc_node *limitr__doc_parse(const char *text, size_t len, const char *format,
                            char **err);

/* Frees a tree (NULL is a no-op). */
void limitr__doc_free(doc_node *node);

/* Looks a key up in a DOC_MAP; NULL when absent or not a map. */
const doc_pair *limitr__doc_get(const doc_node *map, const char *key);

/* ---- Error paths (docs/policy.md section 13), shared with the validator ----
 */

/* The path of child `key` (key_len bytes) of the node at path `parent`;
 * parent NULL, "" or "(document)" is the document root. Children of the
 * root and of the root's `policy` value (path "policy") are written bare:
 * "policy", "plans", "polcy"; below that "plans.free". A key outside
 * A-Z a-z 0-9 _ - (or empty) becomes ["key"], JSON-escaped:
 * plans["a.b"]. Returns a malloc'ed string, NULL when out of memory. */
char *limitr__doc_path_append(const char *parent, const char *key,
                              size_t key_len);

/* The path of list item `i` (zero-based) below `parent`: "tiers[1]";
 * "[1]" at the root. Malloc'ed, NULL when out of memory. */
char *limitr__doc_path_index(const char *parent, size_t i);

/* ---- Internal to doc.c, doc_yaml.c and doc_json.c ---- */

/* One step of the path from the root to the node being parsed. */
typedef struct limitr__doc_seg {
    const char *key; /* NULL: list item `index` */
    size_t key_len;
    size_t index;
} limitr__doc_seg;

/* Open-addressed set of a map's keys while it is parsed (duplicates). */
typedef struct limitr__doc_keyset {
    size_t *slots; /* pair index + 1; 0 = empty */
    size_t cap;
    size_t seed;
} limitr__doc_keyset;

/* Sets *err to "<path>: <fmt...>[ at L:C]" (path from segs[0..n), or
 * "(document)" when n is 0; no position when line is 0). Always returns
 * -1; *err is NULL when out of memory. */
int limitr__doc_error(char **err, const limitr__doc_seg *segs, size_t n,
                      int line, int col, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* Malloc'ed JSON-escaped copy of s (no quotes), for messages; NULL: OOM. */
char *limitr__doc_escape(const char *s, size_t len);

/* A new node of the given type and position; NULL when out of memory. */
doc_node *limitr__doc_new(doc_type type, int line, int col);

/* Copies len bytes into node->text (NUL-terminated). 0, or -1 on OOM. */
int limitr__doc_set_text(doc_node *node, const char *s, size_t len);

/* Makes node a DOC_NUMBER from text in RFC 8259 number grammar (not
 * checked here). 0 ok, -1 out of memory, 1 not a finite double. */
int limitr__doc_set_number(doc_node *node, const char *text, size_t len);

/* Appends an item to a DOC_LIST (owned from then on). 0, or -1 on OOM. */
int limitr__doc_list_push(doc_node *list, doc_node *item);

/* Appends a pair with a NULL value to a DOC_MAP, taking ownership of `key`
 * (malloc'ed, NUL-terminated) on success. Returns 0, 1 when the key is
 * already present (key not taken), -1 out of memory (key not taken). */
int limitr__doc_map_add(doc_node *map, limitr__doc_keyset *set, char *key,
                        size_t key_len, int line, int col);

/* Releases a key set (the map keeps its pairs). */
void limitr__doc_keyset_free(limitr__doc_keyset *set);

/* The two parsers, called by limitr__doc_parse (same contract; len is
 * already checked against LIMITR_DEFAULT_MAX_DOCUMENT). */
doc_node *limitr__doc_parse_yaml(const char *text, size_t len, char **err);
doc_node *limitr__doc_parse_json(const char *text, size_t len, char **err);

#endif
