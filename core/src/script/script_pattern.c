/* script_pattern.c: Lua 5.4 patterns (find, match, gmatch, gsub) for the
 * sandbox. Same results and errors as Lua's, but every matcher step is
 * charged to the call's work budget: hooks never fire inside C functions. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "script_pattern.h"

#define MAX_CAPTURES 32 /* Lua's LUA_MAXCAPTURES */
#define MAX_DEPTH 200   /* Lua's MAXCCALLS for the matcher */
#define CAP_OPEN (-1)   /* capture started, not closed yet */
#define CAP_POS (-2)    /* position capture "()" */

typedef struct capture {
    const char *start;
    ptrdiff_t len; /* >= 0, CAP_OPEN or CAP_POS */
} capture;

typedef struct matcher {
    lua_State *L;
    const char *subj, *subj_end;
    const char *pat_end;
    long *budget;
    int depth_left;
    int ncap;
    capture cap[MAX_CAPTURES];
} matcher;

static const char *match_at(matcher *m, const char *s, const char *p);

static void spend(matcher *m, long n)
{
    if (*m->budget < n) {
        *m->budget = 0;
        luaL_error(m->L, "pattern too complex (work budget exhausted)");
    }
    *m->budget -= n;
}

static void matcher_init(matcher *m, lua_State *L, const char *s, size_t ls,
                         const char *p, size_t lp)
{
    m->L = L;
    m->subj = s;
    m->subj_end = s + ls;
    m->pat_end = p + lp;
    m->budget = limitr__pattern_budget(L);
    m->depth_left = MAX_DEPTH;
    m->ncap = 0;
}

/* Each attempt at a new start position begins from a clean state. */
static void matcher_reset(matcher *m)
{
    m->depth_left = MAX_DEPTH;
    m->ncap = 0;
}

/* %a, %d, ... in the C locale (%z: the zero byte); any other escaped character
 * is literal. */
static int class_match(int c, int cl)
{
    int r;
    switch (tolower(cl)) {
    case 'a':
        r = isalpha(c);
        break;
    case 'c':
        r = iscntrl(c);
        break;
    case 'd':
        r = isdigit(c);
        break;
    case 'g':
        r = isgraph(c);
        break;
    case 'l':
        r = islower(c);
        break;
    case 'p':
        r = ispunct(c);
        break;
    case 's':
        r = isspace(c);
        break;
    case 'u':
        r = isupper(c);
        break;
    case 'w':
        r = isalnum(c);
        break;
    case 'x':
        r = isxdigit(c);
        break;
    case 'z': /* deprecated since 5.2, still accepted */
        r = c == 0;
        break;
    default:
        return cl == c;
    }
    if (isupper(cl)) return r == 0;
    return r != 0;
}

/* p points at '[' and close at the set's ']'. */
static int set_match(int c, const char *p, const char *close)
{
    int hit = 1;
    p++;
    if (*p == '^') {
        hit = 0;
        p++;
    }
    for (; p < close; p++) {
        if (*p == '%') {
            p++;
            if (class_match(c, (unsigned char)*p)) return hit;
        } else if (p + 2 < close && p[1] == '-') {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
                return hit;
            p += 2;
        } else if ((unsigned char)*p == c) {
            return hit;
        }
    }
    return !hit;
}

/* End of the single item (char, '.', %x or set) starting at p. */
static const char *item_end(matcher *m, const char *p)
{
    const char *pe = m->pat_end;
    char c = *p++;
    if (c == '%') {
        if (p >= pe) luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (p < pe && *p == '^') p++;
        /* The first character is always a member, so "[]]" is a set. */
        do {
            if (p >= pe) luaL_error(m->L, "malformed pattern (missing ']')");
            c = *p++;
            if (c == '%' && p < pe) p++;
        } while (p >= pe || *p != ']');
        return p + 1;
    }
    return p;
}

static int item_match(matcher *m, int c, const char *p, const char *ep)
{
    spend(m, 1);
    switch (*p) {
    case '.':
        return 1;
    case '%':
        return class_match(c, (unsigned char)p[1]);
    case '[':
        return set_match(c, p, ep - 1);
    default:
        return (unsigned char)*p == c;
    }
}

/* Longest run first, then give back one character at a time. */
static const char *expand_greedy(matcher *m, const char *s, const char *p,
                                 const char *ep)
{
    size_t n = 0;
    const char *r;
    while (s + n < m->subj_end && item_match(m, (unsigned char)s[n], p, ep))
        n++;
    for (;;) {
        r = match_at(m, s + n, ep + 1);
        if (r != NULL) return r;
        if (n == 0) return NULL;
        n--;
    }
}

/* Shortest run first, then take one more character at a time. */
static const char *expand_lazy(matcher *m, const char *s, const char *p,
                               const char *ep)
{
    const char *r;
    for (;;) {
        r = match_at(m, s, ep + 1);
        if (r != NULL) return r;
        if (s < m->subj_end && item_match(m, (unsigned char)*s, p, ep))
            s++;
        else
            return NULL;
    }
}

static const char *open_capture(matcher *m, const char *s, const char *p,
                                ptrdiff_t what)
{
    const char *r;
    if (m->ncap >= MAX_CAPTURES) luaL_error(m->L, "too many captures");
    m->cap[m->ncap].start = s;
    m->cap[m->ncap].len = what;
    m->ncap++;
    r = match_at(m, s, p);
    if (r == NULL) m->ncap--;
    return r;
}

static const char *close_capture(matcher *m, const char *s, const char *p)
{
    const char *r;
    int i = m->ncap - 1;
    while (i >= 0 && m->cap[i].len != CAP_OPEN)
        i--;
    if (i < 0) luaL_error(m->L, "invalid pattern capture");
    m->cap[i].len = s - m->cap[i].start;
    r = match_at(m, s, p);
    if (r == NULL) m->cap[i].len = CAP_OPEN;
    return r;
}

/* %bxy at s; p points at x. */
static const char *balance(matcher *m, const char *s, const char *p)
{
    int depth = 1;
    if (p + 1 >= m->pat_end)
        luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    spend(m, 1);
    if (s >= m->subj_end || *s != p[0]) return NULL;
    while (++s < m->subj_end) {
        spend(m, 1);
        /* The closer is tested first: with x == y the second one closes. */
        if (*s == p[1]) {
            if (--depth == 0) return s + 1;
        } else if (*s == p[0]) {
            depth++;
        }
    }
    return NULL;
}

/* Back-reference %1-%9 at s; NULL when the text differs. */
static const char *back_reference(matcher *m, const char *s, int digit)
{
    int i = digit - '1';
    ptrdiff_t len;
    if (i < 0 || i >= m->ncap || m->cap[i].len == CAP_OPEN)
        luaL_error(m->L, "invalid capture index %%%d", i + 1);
    len = m->cap[i].len;
    spend(m, 1);
    /* A position capture never matches text. */
    if (len == CAP_POS || m->subj_end - s < len) return NULL;
    spend(m, (long)len);
    if (memcmp(m->cap[i].start, s, (size_t)len) != 0) return NULL;
    return s + len;
}

/* The pattern from p against the subject from s: end of the match or NULL.
 * Recursion only where Lua's matcher recurses (captures, quantifiers), so
 * the depth limit trips on the same patterns. */
static const char *match_body(matcher *m, const char *s, const char *p)
{
    const char *ep, *r;
    char q;
    for (;;) {
        if (p == m->pat_end) return s;
        switch (*p) {
        case '(':
            if (p + 1 < m->pat_end && p[1] == ')')
                return open_capture(m, s, p + 2, CAP_POS);
            return open_capture(m, s, p + 1, CAP_OPEN);
        case ')':
            return close_capture(m, s, p + 1);
        case '$':
            if (p + 1 == m->pat_end) return s == m->subj_end ? s : NULL;
            break; /* a '$' elsewhere is literal */
        case '%':
            if (p + 1 >= m->pat_end) break; /* item_end reports it */
            switch (p[1]) {
            case 'b':
                s = balance(m, s, p + 2);
                if (s == NULL) return NULL;
                p += 4;
                continue;
            case 'f': {
                const char *set = p + 2;
                int prev, cur;
                if (set >= m->pat_end || *set != '[')
                    luaL_error(m->L, "missing '[' after '%%f' in pattern");
                ep = item_end(m, set);
                prev = s == m->subj ? 0 : (unsigned char)s[-1];
                cur = s < m->subj_end ? (unsigned char)*s : 0;
                spend(m, 1);
                if (set_match(prev, set, ep - 1) ||
                    !set_match(cur, set, ep - 1))
                    return NULL;
                p = ep;
                continue;
            }
            case '0':
            case '1':
            case '2':
            case '3':
            case '4':
            case '5':
            case '6':
            case '7':
            case '8':
            case '9':
                s = back_reference(m, s, p[1]);
                if (s == NULL) return NULL;
                p += 2;
                continue;
            default:
                break;
            }
            break;
        default:
            break;
        }
        /* A single item, maybe followed by a quantifier. */
        ep = item_end(m, p);
        q = ep < m->pat_end ? *ep : '\0';
        if (s >= m->subj_end || !item_match(m, (unsigned char)*s, p, ep)) {
            if (q == '*' || q == '?' || q == '-') {
                p = ep + 1; /* zero repetitions */
                continue;
            }
            return NULL;
        }
        switch (q) {
        case '?':
            r = match_at(m, s + 1, ep + 1);
            if (r != NULL) return r;
            p = ep + 1;
            continue;
        case '+':
            return expand_greedy(m, s + 1, p, ep);
        case '*':
            return expand_greedy(m, s, p, ep);
        case '-':
            return expand_lazy(m, s, p, ep);
        default:
            s++;
            p = ep;
            continue;
        }
    }
}

static const char *match_at(matcher *m, const char *s, const char *p)
{
    const char *r;
    if (m->depth_left == 0) luaL_error(m->L, "pattern too complex");
    m->depth_left--;
    spend(m, 1);
    r = match_body(m, s, p);
    m->depth_left++;
    return r;
}

/* Capture i (the whole match s..e when there are none): its text in
 * *text, or CAP_POS with *text at the position. */
static ptrdiff_t get_capture(matcher *m, int i, const char *s, const char *e,
                             const char **text)
{
    if (i >= m->ncap) {
        if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
        *text = s;
        return e - s;
    }
    if (m->cap[i].len == CAP_OPEN) luaL_error(m->L, "unfinished capture");
    *text = m->cap[i].start;
    return m->cap[i].len;
}

static void push_capture(matcher *m, int i, const char *s, const char *e)
{
    const char *text;
    ptrdiff_t len = get_capture(m, i, s, e, &text);
    if (len == CAP_POS)
        lua_pushinteger(m->L, (lua_Integer)(text - m->subj) + 1);
    else
        lua_pushlstring(m->L, text, (size_t)len);
}

/* s == NULL: captures only (find); else the whole match if none. */
static int push_captures(matcher *m, const char *s, const char *e)
{
    int i, n = (m->ncap == 0 && s != NULL) ? 1 : m->ncap;
    luaL_checkstack(m->L, n, "too many captures");
    for (i = 0; i < n; i++)
        push_capture(m, i, s, e);
    return n;
}

/* Lua 5.4's start position: 1-based, negative from the end, clamped. */
static size_t start_index(lua_Integer pos, size_t len)
{
    if (pos > 0) return (size_t)pos;
    if (pos == 0) return 1;
    if (pos < -(lua_Integer)len) return 1;
    return len + (size_t)pos + 1;
}

static int has_specials(const char *p, size_t lp)
{
    static const char specials[] = "^$*+?.([%-";
    size_t i;
    for (i = 0; i < lp; i++)
        if (p[i] != '\0' && strchr(specials, p[i]) != NULL) return 1;
    return 0;
}

/* Plain substring search; each compared byte is charged too, so a needle
 * like "aaab" in "aaaa..." cannot run unbounded. */
static const char *plain_search(matcher *m, const char *s, size_t ls,
                                const char *p, size_t lp)
{
    const char *end, *at;
    size_t k;
    if (lp == 0) return s;
    if (lp > ls) return NULL;
    end = s + (ls - lp) + 1; /* candidates are before end */
    at = s;
    while (at < end) {
        at = memchr(at, p[0], (size_t)(end - at));
        if (at == NULL) return NULL;
        for (k = 1; k < lp && at[k] == p[k]; k++)
            ;
        spend(m, (long)k);
        if (k == lp) return at;
        at++;
    }
    return NULL;
}

static int find_or_match(lua_State *L, int find)
{
    size_t ls, lp, init, at;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *e;
    int anchor;
    matcher m;
    init = start_index(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        lua_pushnil(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        matcher_init(&m, L, s, ls, p, lp);
        e = plain_search(&m, s + init, ls - init, p, lp);
        if (e != NULL) {
            lua_pushinteger(L, (lua_Integer)(e - s) + 1);
            lua_pushinteger(L, (lua_Integer)(e - s + lp));
            return 2;
        }
        lua_pushnil(L);
        return 1;
    }
    anchor = lp > 0 && *p == '^';
    if (anchor) {
        p++;
        lp--;
    }
    matcher_init(&m, L, s, ls, p, lp);
    for (at = init; at <= ls; at++) {
        matcher_reset(&m);
        e = match_at(&m, s + at, p);
        if (e != NULL) {
            if (!find) return push_captures(&m, s + at, e);
            lua_pushinteger(L, (lua_Integer)at + 1);
            lua_pushinteger(L, (lua_Integer)(e - s));
            return push_captures(&m, NULL, NULL) + 2;
        }
        if (anchor) break;
    }
    lua_pushnil(L);
    return 1;
}

static int p_find(lua_State *L)
{
    return find_or_match(L, 1);
}

static int p_match(lua_State *L)
{
    return find_or_match(L, 0);
}

/* gmatch's iterator. Upvalues: subject, pattern, next start offset, end
 * offset of the last match (-1: none), which stops an empty match right
 * after the previous one, as Lua 5.4 does. */
static int gmatch_next(lua_State *L)
{
    size_t ls, lp;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    lua_Integer at = lua_tointegerx(L, lua_upvalueindex(3), NULL);
    lua_Integer last = lua_tointegerx(L, lua_upvalueindex(4), NULL);
    const char *e;
    matcher m;
    matcher_init(&m, L, s, ls, p, lp);
    for (; at <= (lua_Integer)ls; at++) {
        matcher_reset(&m);
        e = match_at(&m, s + at, p);
        if (e != NULL && e - s != last) {
            lua_pushinteger(L, (lua_Integer)(e - s));
            lua_copy(L, -1, lua_upvalueindex(3));
            lua_replace(L, lua_upvalueindex(4));
            return push_captures(&m, s + at, e);
        }
    }
    /* Exhausted: later calls find nothing without scanning again. */
    lua_pushinteger(L, at);
    lua_replace(L, lua_upvalueindex(3));
    return 0;
}

static int p_gmatch(lua_State *L)
{
    size_t ls, lp, init;
    luaL_checklstring(L, 1, &ls);
    luaL_checklstring(L, 2, &lp);
    init = start_index(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) init = ls + 1;
    lua_settop(L, 2);
    lua_pushinteger(L, (lua_Integer)init);
    lua_pushinteger(L, -1);
    lua_pushcclosure(L, gmatch_next, 4);
    return 1;
}

/* gsub's result, grown in a userdata at a fixed stack slot: the memory is
 * the Lua allocator's (so the engine's cap applies) and an error leaks
 * nothing. */
typedef struct outbuf {
    lua_State *L;
    int slot;
    char *data;
    size_t len, cap;
} outbuf;

static void out_init(outbuf *b, lua_State *L)
{
    b->L = L;
    b->cap = 64;
    b->len = 0;
    b->data = lua_newuserdatauv(L, b->cap, 0);
    b->slot = lua_gettop(L);
}

static void out_add(outbuf *b, const char *p, size_t n)
{
    if (n > b->cap - b->len) {
        size_t need = b->len + n, cap = b->cap;
        char *data;
        if (need < b->len) luaL_error(b->L, "resulting string too large");
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        data = lua_newuserdatauv(b->L, cap, 0);
        memcpy(data, b->data, b->len);
        lua_replace(b->L, b->slot);
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Pops the value on top and appends it as a string. */
static void out_add_top(outbuf *b)
{
    size_t len;
    const char *str = lua_tolstring(b->L, -1, &len);
    out_add(b, str, len);
    lua_pop(b->L, 1);
}

/* A replacement string: %0-%9 and %%. Literal runs are copied whole and
 * each run or escape is charged, so a long repl on many matches counts. */
static void add_repl_string(matcher *m, outbuf *b, const char *s, const char *e)
{
    lua_State *L = m->L;
    size_t rl;
    const char *r = lua_tolstring(L, 3, &rl), *re = r + rl, *pct;
    while (r < re) {
        spend(m, 1);
        pct = memchr(r, '%', (size_t)(re - r));
        if (pct == NULL) {
            out_add(b, r, (size_t)(re - r));
            return;
        }
        out_add(b, r, (size_t)(pct - r));
        r = pct + 1;
        if (r < re && *r == '%') {
            out_add(b, "%", 1);
        } else if (r < re && *r == '0') {
            out_add(b, s, (size_t)(e - s));
        } else if (r < re && isdigit((unsigned char)*r)) {
            const char *text;
            ptrdiff_t len = get_capture(m, *r - '1', s, e, &text);
            if (len == CAP_POS) { /* a number, written as Lua does */
                lua_pushinteger(L, (lua_Integer)(text - m->subj) + 1);
                luaL_tolstring(L, -1, NULL);
                out_add_top(b);
                lua_pop(L, 1);
            } else {
                out_add(b, text, (size_t)len);
            }
        } else {
            luaL_error(L, "invalid use of '%%' in replacement string");
        }
        r++;
    }
}

static void add_value(matcher *m, outbuf *b, const char *s, const char *e,
                      int repl_type)
{
    lua_State *L = m->L;
    if (repl_type == LUA_TFUNCTION) {
        int n;
        lua_pushvalue(L, 3);
        n = push_captures(m, s, e);
        lua_call(L, n, 1);
    } else if (repl_type == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_repl_string(m, b, s, e);
        return;
    }
    if (!lua_toboolean(L, -1)) { /* nil or false: keep the match */
        lua_pop(L, 1);
        out_add(b, s, (size_t)(e - s));
        return;
    }
    if (!lua_isstring(L, -1))
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    out_add_top(b);
}

static int p_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *subj = src, *last = NULL, *e;
    int repl_type = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    lua_Integer n = 0;
    int anchor = lp > 0 && *p == '^';
    matcher m;
    outbuf b;
    if (repl_type != LUA_TNUMBER && repl_type != LUA_TSTRING &&
        repl_type != LUA_TFUNCTION && repl_type != LUA_TTABLE)
        luaL_typeerror(L, 3, "string/function/table");
    if (anchor) {
        p++;
        lp--;
    }
    lua_settop(L, 3);
    matcher_init(&m, L, subj, ls, p, lp);
    out_init(&b, L);
    while (n < max) {
        matcher_reset(&m);
        e = match_at(&m, src, p);
        if (e != NULL && e != last) {
            n++;
            add_value(&m, &b, src, e, repl_type);
            src = last = e;
        } else if (src < m.subj_end) {
            out_add(&b, src, 1);
            src++;
        } else {
            break;
        }
        if (anchor) break;
    }
    out_add(&b, src, (size_t)(m.subj_end - src));
    lua_pushlstring(L, b.data, b.len);
    lua_pushinteger(L, n);
    return 2;
}

void limitr__pattern_install(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, p_find);
    lua_setfield(L, idx, "find");
    lua_pushcfunction(L, p_match);
    lua_setfield(L, idx, "match");
    lua_pushcfunction(L, p_gmatch);
    lua_setfield(L, idx, "gmatch");
    lua_pushcfunction(L, p_gsub);
    lua_setfield(L, idx, "gsub");
}
