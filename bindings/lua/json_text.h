/* json_text.h: JSON text straight into Lua values, for limitr_core.c.
 *
 * Snapshots, payloads and results cross the C API as JSON text. Parsing it
 * into a cJSON tree and then copying the tree into Lua (lua_json_push)
 * allocated and freed a node per value: as much time as building the Lua
 * tables (tests/bench/bench_create). This reads the text once and pushes
 * the values as it goes, with the values lua_json_push gives for the same
 * document: whole numbers within 2^53 as integers, other numbers as floats
 * (read with strtod, as cJSON reads them), JSON null as nil (a missing key,
 * a hole in a list), values nested deeper than LUA_JSON_MAX_DEPTH as nil.
 * Strings keep every byte, \u0000 included (cJSON stopped at a NUL).
 *
 * Text that is not one JSON value is nil as a whole. Nothing here
 * allocates outside Lua, so a Lua memory error (the only way these calls
 * raise, as with lua_json_push) leaks nothing. Include after lua.h. */
#ifndef LIMITR_LUA_JSON_TEXT_H
#define LIMITR_LUA_JSON_TEXT_H

#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#ifndef LUA_JSON_MAX_DEPTH
#define LUA_JSON_MAX_DEPTH 32 /* as lua_json.h */
#endif
#define JSON_TEXT_MAX_NESTING 1000 /* cJSON's CJSON_NESTING_LIMIT */

typedef struct json_text {
    const char *p, *end;
} json_text;

static void jt_space(json_text *t)
{
    while (t->p < t->end &&
           (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r'))
        t->p++;
}

static int jt_hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Appends code point cp as UTF-8. */
static void jt_utf8(luaL_Buffer *b, unsigned long cp)
{
    if (cp < 0x80) {
        luaL_addchar(b, (char)cp);
    } else if (cp < 0x800) {
        luaL_addchar(b, (char)(0xC0 | (cp >> 6)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        luaL_addchar(b, (char)(0xE0 | (cp >> 12)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        luaL_addchar(b, (char)(0xF0 | (cp >> 18)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* The string at t->p (on its opening quote) pushed; 0, or -1 for bad text
 * (nothing pushed). A string without escapes is pushed from the text. */
static int jt_string(lua_State *L, json_text *t)
{
    const char *s = ++t->p, *q = s;
    luaL_Buffer b;
    while (q < t->end && *q != '"' && *q != '\\') {
        if ((unsigned char)*q < 0x20) return -1;
        q++;
    }
    if (q >= t->end) return -1;
    if (*q == '"') {
        lua_pushlstring(L, s, (size_t)(q - s));
        t->p = q + 1;
        return 0;
    }
    /* Escapes: check the rest first, so that a bad string leaves no
       half-built buffer on the stack. */
    {
        const char *r = q;
        while (r < t->end && *r != '"') {
            if ((unsigned char)*r < 0x20) return -1;
            if (*r == '\\') {
                unsigned u, lo;
                if (r + 1 >= t->end) return -1;
                switch (r[1]) {
                case '"':
                case '\\':
                case '/':
                case 'b':
                case 'f':
                case 'n':
                case 'r':
                case 't':
                    r += 2;
                    continue;
                case 'u':
                    if (t->end - r < 6 || jt_hex4(r + 2, &u) != 0) return -1;
                    r += 6;
                    if (u >= 0xD800 && u <= 0xDBFF) { /* a surrogate pair */
                        if (t->end - r < 6 || r[0] != '\\' || r[1] != 'u' ||
                            jt_hex4(r + 2, &lo) != 0 || lo < 0xDC00 ||
                            lo > 0xDFFF)
                            return -1;
                        r += 6;
                    } else if (u >= 0xDC00 && u <= 0xDFFF) {
                        return -1; /* a lone low surrogate */
                    }
                    continue;
                default:
                    return -1;
                }
            }
            r++;
        }
        if (r >= t->end) return -1;
    }
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, s, (size_t)(q - s));
    while (*q != '"') {
        unsigned u = 0, lo = 0; /* checked by the first pass */
        if (*q != '\\') {
            const char *run = q;
            while (*q != '"' && *q != '\\')
                q++;
            luaL_addlstring(&b, run, (size_t)(q - run));
            continue;
        }
        switch (q[1]) {
        case 'b':
            luaL_addchar(&b, '\b');
            break;
        case 'f':
            luaL_addchar(&b, '\f');
            break;
        case 'n':
            luaL_addchar(&b, '\n');
            break;
        case 'r':
            luaL_addchar(&b, '\r');
            break;
        case 't':
            luaL_addchar(&b, '\t');
            break;
        case 'u':
            jt_hex4(q + 2, &u);
            if (u >= 0xD800 && u <= 0xDBFF) {
                jt_hex4(q + 8, &lo);
                jt_utf8(&b, 0x10000 + (((unsigned long)u - 0xD800) << 10) +
                                (lo - 0xDC00));
                q += 6;
            } else {
                jt_utf8(&b, u);
            }
            q += 4;
            break;
        default: /* " \ / */
            luaL_addchar(&b, q[1]);
        }
        q += 2;
    }
    luaL_pushresult(&b);
    t->p = q + 1;
    return 0;
}

/* The number at t->p pushed (as lua_json_push would push cJSON's double);
 * 0, or -1 for bad text. */
static int jt_number(lua_State *L, json_text *t)
{
    const char *s = t->p, *q = s;
    char buf[64], *stop;
    size_t n;
    double d;
    int digits = 0, plain = 1;
    if (q < t->end && *q == '-') q++;
    while (q < t->end && *q >= '0' && *q <= '9')
        q++, digits++;
    if (digits == 0) return -1;
    while (q < t->end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' ||
                          *q == 'E' || *q == '+' || *q == '-')) {
        plain = 0;
        q++;
    }
    t->p = q;
    if (plain && digits <= 15) { /* exact, and below 2^53: an integer */
        const char *c = s[0] == '-' ? s + 1 : s;
        lua_Integer v = 0;
        for (; c < q; c++)
            v = v * 10 + (*c - '0');
        lua_pushinteger(L, s[0] == '-' ? -v : v);
        return 0;
    }
    n = (size_t)(q - s);
    if (n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    { /* strtod reads the locale's decimal point (cJSON does this too) */
        char point = localeconv()->decimal_point[0];
        char *dot = point != '.' ? strchr(buf, '.') : NULL;
        if (dot != NULL) *dot = point;
    }
    d = strtod(buf, &stop);
    if (stop != buf + n) return -1;
    if (d >= -9007199254740992.0 && d <= 9007199254740992.0 &&
        d == (double)(lua_Integer)d)
        lua_pushinteger(L, (lua_Integer)d);
    else
        lua_pushnumber(L, d);
    return 0;
}

static int jt_value(lua_State *L, json_text *t, int depth);

/* Skips the value at t->p (one nested deeper than values are copied): its
 * brackets balanced, strings included. 0, or -1 for bad text. */
static int jt_skip(json_text *t)
{
    int open = 0;
    do {
        jt_space(t);
        if (t->p >= t->end) return -1;
        switch (*t->p) {
        case '"':
            for (t->p++; t->p < t->end && *t->p != '"'; t->p++)
                if (*t->p == '\\') t->p++;
            if (t->p >= t->end) return -1;
            t->p++;
            break;
        case '{':
        case '[':
            if (++open > JSON_TEXT_MAX_NESTING) return -1;
            t->p++;
            break;
        case '}':
        case ']':
            if (--open < 0) return -1;
            t->p++;
            break;
        case ',':
        case ':':
            t->p++;
            break;
        default: /* a number or literal: its whole extent */
            do
                t->p++;
            while (t->p < t->end && *t->p != ',' && *t->p != ']' &&
                   *t->p != '}' && *t->p != ':' && *t->p != ' ' &&
                   *t->p != '\t' && *t->p != '\r' && *t->p != '\n');
        }
    } while (open > 0);
    return 0;
}

/* The array or object at t->p pushed as a table. */
static int jt_table(lua_State *L, json_text *t, int depth)
{
    int object = *t->p == '{';
    char close = object ? '}' : ']';
    lua_Integer i = 1;
    t->p++;
    lua_createtable(L, object ? 0 : 4, object ? 8 : 0);
    jt_space(t);
    if (t->p < t->end && *t->p == close) {
        t->p++;
        return 0;
    }
    for (;;) {
        jt_space(t);
        if (object) {
            if (t->p >= t->end || *t->p != '"' || jt_string(L, t) != 0)
                return -1;
            jt_space(t);
            if (t->p >= t->end || *t->p != ':') return -1;
            t->p++;
        }
        if (jt_value(L, t, depth + 1) != 0) return -1;
        if (object)
            lua_rawset(L, -3);
        else
            lua_rawseti(L, -2, i++);
        jt_space(t);
        if (t->p >= t->end) return -1;
        if (*t->p == ',') {
            t->p++;
            continue;
        }
        if (*t->p != close) return -1;
        t->p++;
        return 0;
    }
}

/* One value pushed; 0, or -1 for bad text (the caller restores the stack). */
static int jt_value(lua_State *L, json_text *t, int depth)
{
    if (!lua_checkstack(L, 24)) return -1; /* a table, a key, a buffer */
    jt_space(t);
    if (t->p >= t->end) return -1;
    if (depth > LUA_JSON_MAX_DEPTH) { /* as lua_json_push: nil */
        if (jt_skip(t) != 0) return -1;
        lua_pushnil(L);
        return 0;
    }
    switch (*t->p) {
    case '{':
    case '[':
        return jt_table(L, t, depth);
    case '"':
        return jt_string(L, t);
    case 't':
        if (t->end - t->p < 4 || memcmp(t->p, "true", 4) != 0) return -1;
        t->p += 4;
        lua_pushboolean(L, 1);
        return 0;
    case 'f':
        if (t->end - t->p < 5 || memcmp(t->p, "false", 5) != 0) return -1;
        t->p += 5;
        lua_pushboolean(L, 0);
        return 0;
    case 'n':
        if (t->end - t->p < 4 || memcmp(t->p, "null", 4) != 0) return -1;
        t->p += 4;
        lua_pushnil(L);
        return 0;
    default:
        return jt_number(L, t);
    }
}

/* Pushes the JSON text (len bytes) as one Lua value: nil for NULL or text
 * that is not exactly one JSON value. */
static void json_text_push(lua_State *L, const char *text, size_t len)
{
    int top = lua_gettop(L);
    json_text t;
    if (text == NULL) {
        lua_pushnil(L);
        return;
    }
    t.p = text;
    t.end = text + len;
    if (jt_value(L, &t, 0) == 0) {
        jt_space(&t);
        if (t.p == t.end) return;
    }
    lua_settop(L, top);
    lua_pushnil(L);
}

#endif
