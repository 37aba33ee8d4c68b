/* script.h: the engine's private, sandboxed Lua 5.4 VM (docs/sandbox.md) and
 * the calls the engine makes into it: the policy's `lua` chunk, snippet
 * compilation, and calls of compiled snippets with JSON-shaped values. */
#ifndef LIMITR_SCRIPT_H
#define LIMITR_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "limitr.h"

typedef struct cJSON cJSON;
typedef struct script script;

#ifndef LIMITR_DEFAULT_SNIPPET_INSTRUCTIONS
#define LIMITR_DEFAULT_SNIPPET_INSTRUCTIONS 1000000L /* per call */
#endif
#ifndef LIMITR_DEFAULT_SNIPPET_MS
#define LIMITR_DEFAULT_SNIPPET_MS 100 /* wall-clock deadline per call */
#endif
#ifndef LIMITR_DEFAULT_SNIPPET_MEMORY
#define LIMITR_DEFAULT_SNIPPET_MEMORY (32u * 1024u * 1024u) /* per VM */
#endif
#ifndef LIMITR_DEFAULT_PATTERN_STEPS
#define LIMITR_DEFAULT_PATTERN_STEPS 1000000L /* per call */
#endif
#ifndef LIMITR_DEFAULT_SNIPPET_SIZE
#define LIMITR_DEFAULT_SNIPPET_SIZE (256u * 1024u) /* bytes of source */
#endif

typedef struct script_limits {
    long instructions; /* per call */
    long milliseconds; /* per call */
    size_t memory;     /* bytes, for the whole VM */
    long pattern_steps;
} script_limits;

/* The kinds of value a snippet returns, without the Lua API. */
typedef enum script_type {
    SCRIPT_NIL,
    SCRIPT_BOOLEAN,
    SCRIPT_NUMBER,
    SCRIPT_STRING,
    SCRIPT_OTHER /* table, function, a string with a NUL byte, ... */
} script_type;

/* What a snippet returned: up to two results, copied out of the VM. */
typedef struct script_result {
    int n;               /* results kept (0-2) */
    script_type type[2]; /* of each */
    int boolean[2];
    double number[2];
    char *string[2]; /* malloc'ed copies, or NULL */
} script_result;

void limitr__script_result_free(script_result *r);

/* One meter as limitr.meter(ent) shows it to a snippet. */
typedef struct script_meter {
    double value;
    int has_limit; /* limit and remaining (not for observe limits) */
    double limit;
    double remaining;
} script_meter;

/* What snippets may ask of the host that runs them (the engine): the VM
 * reaches nothing else of it. Every function may be NULL. */
typedef struct script_host {
    void *ud;
    /* The host clock, ms since the epoch (limitr.now()). */
    int64_t (*now)(void *ud);
    /* lib.name(...) with the arguments as items (an ARRAY first): 0 with
     * *result (the items of one value, borrowed until the host's next
     * call; NULL: no result), or -1 with *failure (malloc'ed message, or
     * NULL: out of memory). */
    int (*call)(void *ud, const char *lib, const char *name,
                const limitr_item *args, size_t n_args,
                const limitr_item **result, size_t *n_result, char **failure);
    /* limitr.meter(ent) / limitr.value(ent) for customer: 0 with *out, -1
     * when the customer has no such meter (nil), or -2 with *why (static
     * text) when the read is an error the snippet must raise. */
    int (*meter)(void *ud, const char *id, const char *ent, script_meter *out,
                 const char **why);
} script_host;

/* Creates a VM. Returns NULL and *err (static text) when Lua cannot be
 * loaded or memory runs out. It calls no host until limitr__script_bind. */
script *limitr__script_open(const script_limits *limits, const char **err);
/* Gives the VM its host (copied). */
void limitr__script_bind(script *s, const script_host *host);
void limitr__script_close(script *s);

/* Runs the policy's `lua` chunk (statements) with the policy globals as
 * its environment. 0, or -1 and *err (malloc'ed, "lua: ..."). */
int limitr__script_run_chunk(script *s, const char *code, size_t len,
                             char **err);

/* Compiles a snippet (one function expression) named `path`: returns its
 * registry reference (> 0), or 0 and *err (malloc'ed problem text without
 * the path). */
int limitr__script_compile(script *s, const char *code, size_t len,
                           const char *path, char **err);
void limitr__script_unref(script *s, int ref);

/* Calls snippet `ref` with the arguments (cJSON values, NULL pushed as
 * nil). Returns a status (LIMITR_OK, LIMITR_SCRIPT, LIMITR_BUDGET,
 * LIMITR_MEMCAP, LIMITR_NOMEM) and, on failure, *err (malloc'ed,
 * "<path>:<line>: <message>", the path it was compiled under). Results go
 * to *res (may be NULL). */
int limitr__script_call(script *s, int ref, const cJSON *const *args, int nargs,
                        script_result *res, char **err);

/* A table the snippet receives empty and sees filled the first time it
 * reads it: then fetch(ud, key) builds it (a cJSON object, freed by the
 * caller of fetch; NULL: out of memory). What the snippet never reads
 * costs nothing (a customer snapshot an on_exceed snippet ignores). It
 * answers only during the call that received it. */
typedef struct script_lazy {
    cJSON *(*fetch)(void *ud, const void *key);
    void *ud;
    const void *key;
    const char *id; /* set at once as the table's `id` (NULL: none): the
                       field most read costs no fetch */
} script_lazy;

/* Calls snippet `ref` with one argument, the lazy table `arg`, as
 * limitr__script_call does otherwise. */
int limitr__script_call_lazy(script *s, int ref, const script_lazy *arg,
                             script_result *res, char **err);

/* A field of a table built straight in the VM, without JSON. */
typedef enum script_field_kind {
    SCRIPT_FIELD_NUMBER,
    SCRIPT_FIELD_STRING,
    SCRIPT_FIELD_LAZY,  /* a lazy table (at the top level only) */
    SCRIPT_FIELD_TABLE, /* a table of the `size` fields that follow */
    SCRIPT_FIELD_JSON   /* `json`, a cJSON value (NULL: nil) */
} script_field_kind;

typedef struct script_field {
    const char *name;
    script_field_kind kind;
    double number;      /* SCRIPT_FIELD_NUMBER */
    const char *string; /* SCRIPT_FIELD_STRING */
    script_lazy lazy;   /* SCRIPT_FIELD_LAZY */
    int size;           /* SCRIPT_FIELD_TABLE */
    const cJSON *json;  /* SCRIPT_FIELD_JSON */
} script_field;

/* Calls snippet `ref` with one argument: a table of the fields, nfields at
 * its top level (a table field's own fields follow it; a lazy one is built
 * the first time the snippet reads it), as limitr__script_call does
 * otherwise. */
int limitr__script_call_fields(script *s, int ref, const script_field *fields,
                               int nfields, script_result *res, char **err);

/* Whether name is one the sandbox gives every snippet (a library name a
   host function may not take), whether or not a VM exists. */
int limitr__script_reserved_name(const char *name);
/* Makes a host library (registered with limitr_lib) visible to snippets as
 * the global table `lib`, with `name` calling back into the engine. */
int limitr__script_add_lib(script *s, const char *lib, const char *name,
                           char **err);

/* The customer whose meters limitr.meter()/limitr.value() read during the
 * current call (NULL: none). */
void limitr__script_set_customer(script *s, const char *id);

#endif
