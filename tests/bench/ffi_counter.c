/* ffi_counter.c: the LuaJIT FFI baseline of bench_allow.lua: the bare map
 * of bare_map.h behind two C functions, called through the FFI as
 * limitr_allow_n is. Built as a shared library for the benchmark only. */
#include "bare_map.h"

#if defined(__GNUC__)
#define EXPORT __attribute__((visibility("default")))
#else
#define EXPORT
#endif

EXPORT void ffi_counter_put(const char *id, const char *ent);
EXPORT int ffi_counter_incr(const char *id, size_t id_len, const char *ent,
                            size_t ent_len);

static bare_map map;

void ffi_counter_put(const char *id, const char *ent)
{
    /* the map keeps the pointers: copies that live as long as the process */
    char *i = strdup(id), *e = strdup(ent);
    if (i == NULL || e == NULL) abort();
    bare_put(&map, i, e);
}

/* Returns 0 when counted, as limitr_allow_n returns LIMITR_OK. */
int ffi_counter_incr(const char *id, size_t id_len, const char *ent,
                     size_t ent_len)
{
    bare_slot *s = bare_find(&map, id, id_len, ent, ent_len,
                             bare_key_hash(id, id_len, ent, ent_len));
    if (s->id == NULL) return 1;
    s->count++;
    return 0;
}
