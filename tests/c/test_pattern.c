/* test_pattern.c: the bounded pattern functions (script_pattern.c) give the
 * same results and errors as Lua 5.4's string library, and the work budget
 * stops pathological patterns quickly. */
#include <time.h>

#include "harness.h"
#include "script_pattern.h"

static long budget;

/* The engine defines this in script.c; the test owns its own budget. */
long *limitr__pattern_budget(lua_State *L)
{
    (void)L;
    return &budget;
}

static void *plain_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

/* A state with the reference string library as `string` and ours as the
 * global `bounded`. */
static lua_State *new_state(void)
{
    const char *err = NULL;
    lua_State *L;
    if (limitr__lua_api_load(&err) != 0) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    L = lua_newstate(plain_alloc, NULL);
    if (L == NULL) return NULL;
    luaL_requiref(L, "_G", limitr__lua.luaopen_base, 1);
    luaL_requiref(L, "string", limitr__lua.luaopen_string, 1);
    luaL_requiref(L, "table", limitr__lua.luaopen_table, 1);
    /* luaopen_* are function-like macros: pass the table's pointers. */
    lua_settop(L, 0);
    lua_createtable(L, 0, 4);
    limitr__pattern_install(L, -1);
    lua_setglobal(L, "bounded");
    budget = 1000000000L;
    return L;
}

/* Runs a chunk; returns NULL on success, else the error message (copied
 * into msg). */
static const char *run(lua_State *L, const char *code, char *msg, size_t n)
{
    const char *e;
    if (luaL_loadbufferx(L, code, strlen(code), "=test", "t") == LUA_OK &&
        lua_pcall(L, 0, 0, 0) == LUA_OK)
        return NULL;
    e = lua_tostring(L, -1);
    snprintf(msg, n, "%s", e ? e : "(non-string error)");
    lua_pop(L, 1);
    return msg;
}

/* Lua helpers shared by the differential tests: call() runs one function
 * of a library through a local (so argument errors name the same function
 * for both), check() compares bounded with string, failures collect in
 * `failures`. */
static const char prelude[] =
    "failures = {}\n"
    "checked = 0\n"
    "local function ser(v)\n"
    "  if type(v) == 'string' then return string.format('%q', v) end\n"
    "  if type(v) == 'table' then return 'table' end\n"
    "  return type(v) .. ':' .. tostring(v)\n"
    "end\n"
    "local function strip(m)\n"
    "  if type(m) ~= 'string' then return ser(m) end\n"
    "  return 'error: ' .. (string.gsub(m, '^[^:]*:%d+: ', ''))\n"
    "end\n"
    "local function pack(ok, ...)\n"
    "  if not ok then return strip(...) end\n"
    "  local t = {select('#', ...)}\n"
    "  for i = 1, select('#', ...) do t[#t + 1] = ser((select(i, ...))) end\n"
    "  return table.concat(t, ' ')\n"
    "end\n"
    "local function gm(f, ...)\n"
    "  local it = f(...)\n"
    "  local out = {}\n"
    "  for _ = 1, 200 do\n"
    "    local r = table.pack(it())\n"
    "    local t = {r.n}\n"
    "    for i = 1, r.n do t[#t + 1] = ser(r[i]) end\n"
    "    out[#out + 1] = table.concat(t, ' ')\n"
    "    if r[1] == nil then break end\n"
    "  end\n"
    "  return table.concat(out, ' | ')\n"
    "end\n"
    "function call(lib, name, ...)\n"
    "  local fn = lib[name]\n"
    "  if name == 'gmatch' then\n"
    "    return pack(pcall(gm, function(...) local gmatch = fn\n"
    "      return gmatch(...) end, ...))\n"
    "  end\n"
    "  return pack(pcall(function(...) local f = fn; return f(...) end, ...))\n"
    "end\n"
    "function check(name, ...)\n"
    "  checked = checked + 1\n"
    "  local want = call(string, name, ...)\n"
    "  local got = call(bounded, name, ...)\n"
    "  if want ~= got and #failures < 20 then\n"
    "    local a = {}\n"
    "    for i = 1, select('#', ...) do a[i] = ser((select(i, ...))) end\n"
    "    failures[#failures + 1] = name .. '(' .. table.concat(a, ', ') ..\n"
    "      ')\\n    string:  ' .. want .. '\\n    bounded: ' .. got\n"
    "  end\n"
    "end\n";

/* Runs prelude + body and reports the comparison failures. */
static int differential(const char *body, long *checked)
{
    char msg[512];
    lua_State *L = new_state();
    int nfail;
    if (L == NULL) return -1;
    if (run(L, prelude, msg, sizeof msg) || run(L, body, msg, sizeof msg)) {
        fprintf(stderr, "script error: %s\n", msg);
        lua_close(L);
        return -1;
    }
    lua_getglobal(L, "checked");
    *checked = (long)lua_tointeger(L, -1);
    lua_getglobal(L, "failures");
    nfail = (int)luaL_len(L, -1);
    for (int i = 1; i <= nfail; i++) {
        lua_rawgeti(L, -1, i);
        fprintf(stderr, "  mismatch: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_close(L);
    return nfail;
}

static const char fixed_cases[] =
    "local subjects = {'', 'a', 'abc', 'hello world', '  x = 10, y=-2.5 ',\n"
    "  'THE (quick) [brown] {fox}', 'aaa', 'abab', 'a.b*c+d?e-f',\n"
    "  'f(a(b)c)d((e)', 'x\\0y\\0z', 'tab\\tnl\\ncr\\r\\1\\127\\200\\255',\n"
    "  'THE END', 'ab12cd34', '%%$^', 'key=val; k2=v2', '0x1F ff G'}\n"
    "local patterns = {\n"
    "  '', 'a', 'b', 'abc', 'x', '.', '..', '.-', '.*', '.+', '.?',\n"
    "  '%a', '%A', '%c', '%C', '%d', '%D', '%g', '%G', '%l', '%L',\n"
    "  '%p', '%P', '%s', '%S', '%u', '%U', '%w', '%W', '%x', '%X',\n"
    "  '%a+', '%d+', '%s*', '%w*', '%W+', '%x+', '%l-', '%u?', '%.',\n"
    "  '%%', '%(', '%]', '%z', '%$', '%^',\n"
    "  '[abc]', '[^abc]', '[a-c]', '[^a-c]+', '[%a_][%w_]*', '[%d.]+',\n"
    "  '[a-]', '[-a]', '[]]', '[^]]', '[]a]+', '[a%-z]', '[%]]', '[%%]',\n"
    "  '[z-a]', '[%w%s]+', '[^%s=]+', '[.]', '[a-c-e]', '[\\0-\\31]',\n"
    "  '[\\128-\\255]+', '[^\\0]+', '\\0', '%z', 'y\\0',\n"
    "  '^a', '^abc', '^', '^$', '$', 'c$', 'a$b', '^%s*(.-)%s*$',\n"
    "  '^(%a+)', 'x^', '$$', '^^a',\n"
    "  '(a)', '(a)(b)', '()', '()a()', '(a*)', '(a-)b', '((a)(b))',\n"
    "  '(%w+)=(%w+)', '(h)(e)(l)(l)(o)', '()(%a+)()', '(.)%1', '(a+)%1',\n"
    "  '(%a)(%a)%2%1', '(.-)%1', '(()a)', '(a)%0', '%1', '(a)%2',\n"
    "  '(a%1)', '%b()', '%b[]', '%b{}', '%baa', '%b()+', '(%b())', '%b(',\n"
    "  '%b', '%f[%a]', '%f[%a]%a+', '%f[%A]', '%f[%w]%w+%f[%W]',\n"
    "  '%f[%z]', '%f[^%z]', '%f[%s]', '%f[a]', '%fa', '%f', '%f[a',\n"
    "  'a*b', 'a+b', 'a-b', 'a?b', 'a*a*a*', '(a*)*', 'a**', 'a-*',\n"
    "  '*', '+a', '?', '-', '[', '[a', '[^', '[%', '%', 'a%', '(', 'a(',\n"
    "  ')', 'a)', '(()', '(a))', '%g+', '[%g]+', '%s+$', '^%p+',\n"
    "  '[a-%%]', '[%a-z]', '[a-]+', '%d%d?%d?', '(%d+)%.?(%d*)',\n"
    "  'o w', 'l+', 'L', 'END$', '%u+ %u+$', ' ', '=', ';',\n"
    "}\n"
    "local inits = {false, 1, 2, 3, -1, -2, -3, 0, 4, 5, 100, -100}\n"
    "for _, s in ipairs(subjects) do\n"
    "  for _, p in ipairs(patterns) do\n"
    "    check('match', s, p)\n"
    "    check('find', s, p)\n"
    "    check('find', s, p, 1, true)\n"
    "    check('gmatch', s, p)\n"
    "    check('gsub', s, p, '<%0>')\n"
    "    for _, i in ipairs(inits) do\n"
    "      if i then\n"
    "        check('match', s, p, i)\n"
    "        check('find', s, p, i)\n"
    "        check('find', s, p, i, true)\n"
    "        check('gmatch', s, p, i)\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n";

TEST(fixed_differential)
{
    long checked = 0;
    ASSERT_EQ(differential(fixed_cases, &checked), 0);
    printf("     %ld comparisons\n", checked);
    ASSERT(checked > 50000);
}

static const char special_cases[] =
    /* anchors and empty matches */
    "check('gsub', 'abc', '%w*', '-')\n"
    "check('gsub', 'abc', '', '-')\n"
    "check('gsub', '', '', '-')\n"
    "check('gsub', 'abc', 'x*', '-')\n"
    "check('gsub', 'a,b,,c', '[^,]*', '<%0>')\n"
    "check('gsub', 'hello world', '^h', 'H')\n"
    "check('gsub', 'hello world', '^', '>')\n"
    "check('gsub', 'hello world', '$', '<')\n"
    "check('gsub', 'hello', '^x*', '-')\n"
    "check('gmatch', 'abc', '')\n"
    "check('gmatch', 'abc', '%w*')\n"
    "check('gmatch', 'a^b^c', '^%a')\n"
    "check('gmatch', '^a^b', '^')\n"
    "check('gmatch', 'abc', '^abc')\n"
    "check('gmatch', 'abc', 'c$')\n"
    "check('gmatch', 'one two  three', '%a+', 5)\n"
    "check('gmatch', 'one two', '%a*', -3)\n"
    "check('gmatch', 'one two', '()', 8)\n"
    "check('gmatch', 'one two', '()', 9)\n"
    "check('gmatch', 'k=v, a=b', '(%w+)=(%w+)')\n"
    "check('find', 'abc', '', 4)\n"
    "check('find', 'abc', '', 5)\n"
    "check('find', 'abc', '', 10, true)\n"
    "check('find', 'abc', '', -10)\n"
    "check('find', '', '')\n"
    "check('find', '', '', 2)\n"
    "check('match', 'abc', '()', 4)\n"
    "check('match', 'abc', '()', 5)\n"
    "check('find', 'a.b', '.', 1, true)\n"
    "check('find', 'a+b', '+', 1, true)\n"
    "check('find', 'a\\0%b', '\\0%', 1, true)\n"
    "check('find', 'abcabc', 'cab')\n"
    "check('find', 'aaaaab', 'aab')\n"
    "check('find', 'x', 'xy')\n"
    "check('find', 'abc', 'c', 3)\n"
    "check('find', 'hello', 'l', 1.0)\n"
    "check('find', 'hello', 'l', 1.5)\n"
    "check('find', 'hello', 'l', '2')\n"
    "check('find', 'hello', 'l', 'x')\n"
    "check('find', 123, 2)\n"
    "check('find', nil, 'a')\n"
    "check('find', 'a', nil)\n"
    "check('find', 'a', {})\n"
    "check('match', 'a')\n"
    "check('gmatch', 'a')\n"
    "check('gsub', 'a', 'a')\n"
    "check('gsub', 'a', 'a', true)\n"
    "check('gsub', 'a', 'a', 'b', 'x')\n"
    "check('gsub', 12345, 3, 9)\n"
    "check('find', 'hello', 'l', -9223372036854775807 - 1)\n"
    "check('find', 'hello', 'l', 9223372036854775807)\n"
    "check('gmatch', 'hello', 'l', 9223372036854775807)\n"
    "check('gmatch', 'hello', 'l', -9223372036854775807 - 1)\n"
    /* gsub replacement strings */
    "check('gsub', 'hello world', '(o)', '[%1]')\n"
    "check('gsub', 'hello world', 'o', '[%1]')\n"
    "check('gsub', 'hello world', 'o', '[%2]')\n"
    "check('gsub', 'hello world', '(o)', '[%2]')\n"
    "check('gsub', 'hello world', '(o)', '%0%0')\n"
    "check('gsub', 'hello world', 'o', '100%%')\n"
    "check('gsub', 'hello world', 'o', '%')\n"
    "check('gsub', 'hello world', 'o', 'x%')\n"
    "check('gsub', 'hello world', 'o', '%a')\n"
    "check('gsub', 'hello world', 'o', '%\\0')\n"
    "check('gsub', 'hello', '()', '%1,')\n"
    "check('gsub', 'hello', '()l()', '%2-%1')\n"
    "check('gsub', 'hello', '(l)(l)', '%2%1%0')\n"
    "check('gsub', 'hello', 'l', 7)\n"
    "check('gsub', 'hello', 'l', 1.5)\n"
    "check('gsub', 'hello', '(', 'x')\n"
    "check('gsub', 'hello', '(l', 'x')\n"
    "check('gsub', 'hello', '%', 'x')\n"
    /* n: max replacements */
    "for _, n in ipairs({-1, 0, 1, 2, 3, 100, 2.0}) do\n"
    "  check('gsub', 'a a a', 'a', 'b', n)\n"
    "  check('gsub', 'abc', '', '-', n)\n"
    "end\n"
    "check('gsub', 'a a a', 'a', 'b', 1.5)\n"
    "check('gsub', 'a a a', 'a', 'b', 'x')\n"
    /* table and function replacements */
    "local t = {hello = 'HI', world = false, x = 42, y = 1.5, z = {},\n"
    "  [1] = 'one'}\n"
    "check('gsub', 'hello world', '%w+', t)\n"
    "check('gsub', 'hello x y', '%w+', t)\n"
    "check('gsub', 'z', '%w+', t)\n"
    "check('gsub', 'abc', '()b', t)\n"
    "check('gsub', 'hello world', '(h)(e)', t)\n"
    "check('gsub', 'hello world', '%w+', string.upper)\n"
    "check('gsub', 'hello world', '(%w)(%w*)', function(a, b)\n"
    "  return b .. a end)\n"
    "check('gsub', 'hello world', '%w+', function() return nil end)\n"
    "check('gsub', 'hello world', '%w+', function() return false end)\n"
    "check('gsub', 'hello world', '%w+', function() return 3 end)\n"
    "check('gsub', 'hello world', '%w+', function() return true end)\n"
    "check('gsub', 'hello world', '%w+', function() return {} end)\n"
    "check('gsub', 'hello world', '%w+', function() error('boom') end)\n"
    "check('gsub', 'hello world', '%w+', function() error({}) end)\n"
    "check('gsub', 'abc', '()', function(p) return p * 2 end)\n"
    "check('gsub', 'abc', '', function(...) return select('#', ...) end)\n"
    "check('gsub', 'abc', '(a)(', function() return 'x' end)\n"
    "check('gsub', 'abc', '(a', function() return 'x' end)\n"
    "check('gsub', 'abc', '%w', setmetatable({}, {__index = function(_, k)\n"
    "  return k:upper() end}))\n"
    /* nested calls from a replacement function */
    "check('gsub', 'a-b c-d', '%S+', function(w)\n"
    "  return (bounded.gsub(w, '-', '+')) end)\n"
    /* captures */
    "check('match', 'hello', '(h)(e)(l)(l)(o)')\n"
    "check('match', 'hello', '()ll()')\n"
    "check('find', 'hello', '()ll()')\n"
    "check('find', 'hello', '(l)(l)')\n"
    "check('match', 'hello', '((l)(l))')\n"
    "check('match', string.rep('a', 32), string.rep('(a)', 32))\n"
    "check('match', string.rep('a', 33), string.rep('(a)', 33))\n"
    "check('match', 'a', string.rep('()', 32))\n"
    "check('match', 'a', string.rep('()', 33))\n"
    "check('find', 'a', string.rep('()', 32))\n"
    "check('match', 'aaa', '(a)(a)%3')\n"
    "check('match', 'a()', '()%1')\n"
    "check('match', 'xyzxyz', '(xyz)%1')\n"
    "check('match', 'xyzxy', '(xyz)%1')\n"
    /* recursion depth */
    "check('match', string.rep('a', 300), string.rep('a?', 300))\n"
    "check('match', string.rep('a', 150), string.rep('a?', 150))\n"
    "check('match', string.rep('a', 198), string.rep('a?', 198))\n"
    "check('match', string.rep('a', 199), string.rep('a?', 199))\n"
    "check('match', string.rep('a', 200), string.rep('a?', 200))\n"
    "check('match', '', string.rep('a*', 199))\n"
    "check('match', '', string.rep('a*', 200))\n"
    "check('match', '', string.rep('a-', 250))\n"
    "check('match', 'x', string.rep('x?', 250))\n"
    "check('match', 'x', string.rep('(x?)', 20))\n"
    "check('find', 'abc', string.rep('.-', 199) .. 'c')\n"
    "check('find', 'abc', string.rep('.-', 200) .. 'c')\n"
    /* long subjects */
    "local long = string.rep('ab', 5000) .. 'c'\n"
    "check('find', long, 'b*c')\n"
    "check('find', long, '(ab)*c')\n"
    "check('gsub', long, 'ab', '%0%0')\n"
    "check('gsub', long, 'a', {a = 'A'})\n"
    "check('find', long, 'abc', 1, true)\n"
    "check('find', long, 'bab', -5, true)\n"
    "check('match', long, '.-c$')\n"
    /* every byte against every class */
    "local all = {}\n"
    "for i = 0, 255 do all[#all + 1] = string.char(i) end\n"
    "all = table.concat(all)\n"
    "for _, c in ipairs({'a','c','d','g','l','p','s','u','w','x'}) do\n"
    "  check('gsub', all, '%' .. c, '')\n"
    "  check('gsub', all, '%' .. c:upper(), '')\n"
    "  check('gsub', all, '[%' .. c .. ']', '')\n"
    "  check('gsub', all, '[^%' .. c .. ']', '')\n"
    "  check('gsub', all, '%f[%' .. c .. ']', '|')\n"
    "end\n"
    "check('gsub', all, '[\\200-\\220]', '')\n"
    "check('gsub', all, '.', '')\n";

TEST(special_differential)
{
    long checked = 0;
    ASSERT_EQ(differential(special_cases, &checked), 0);
    printf("     %ld comparisons\n", checked);
}

/* Random patterns from a small alphabet of pieces over random subjects,
 * with a fixed linear congruential generator so every run is the same. */
static const char random_cases[] =
    "local seed = 12345\n"
    "local function rnd(n)\n"
    "  seed = (seed * 1103515245 + 12345) % 2147483648\n"
    "  return seed // 65536 % n + 1\n"
    "end\n"
    "local pieces = {'a', 'b', 'c', '.', '%a', '%d', '%s', '%w', '%W', '%p',\n"
    "  '[ab]', '[^a]', '[a-c]', '[%d_]', '[]]', '[^%s]', '*', '+', '-', '?',\n"
    "  '*', '+', '-', '?', '(', ')', '(', ')', '()', '%1', '%2', '%0', '^',\n"
    "  '$', '%b()', '%bab', '%f[%w]', '%f[%W]', '%f[ab]', '%', '[', ']',\n"
    "  '%%', ' ', '1', '_', '%(', '%)', 'x', '.-', '.*'}\n"
    "local chars = {'a', 'b', 'c', 'a', 'b', ' ', '(', ')', '1', '2', '_',\n"
    "  'x', '%', '.', ']'}\n"
    "local repls = {'<%0>', '%1', '[%1%2]', '%%', '', 'z', '%'}\n"
    "for _ = 1, 4000 do\n"
    "  local p = {}\n"
    "  for _ = 1, rnd(8) do p[#p + 1] = pieces[rnd(#pieces)] end\n"
    "  p = table.concat(p)\n"
    "  local s = {}\n"
    "  for _ = 1, rnd(13) - 1 do s[#s + 1] = chars[rnd(#chars)] end\n"
    "  s = table.concat(s)\n"
    "  local init = rnd(#s + 4) - 2\n"
    "  check('find', s, p)\n"
    "  check('find', s, p, init)\n"
    "  check('match', s, p, init)\n"
    "  check('gmatch', s, p)\n"
    "  check('gsub', s, p, repls[rnd(#repls)])\n"
    "  check('gsub', s, p, repls[rnd(#repls)], rnd(4) - 1)\n"
    "  check('gsub', s, p, function(...) return select('#', ...) end)\n"
    "end\n";

TEST(random_differential)
{
    long checked = 0;
    ASSERT_EQ(differential(random_cases, &checked), 0);
    printf("     %ld comparisons\n", checked);
    ASSERT_EQ(checked, 28000);
}

TEST(install_sets_four_functions)
{
    lua_State *L = new_state();
    int n = 0;
    ASSERT(L != NULL);
    lua_createtable(L, 0, 0);
    limitr__pattern_install(L, -1);
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        ASSERT_EQ(lua_type(L, -1), LUA_TFUNCTION);
        lua_pop(L, 1);
        n++;
    }
    lua_close(L);
    ASSERT_EQ(n, 4);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs code with a fresh budget; returns the error or NULL. */
static const char *with_budget(lua_State *L, long b, const char *code,
                               char *msg, size_t n, double *ms)
{
    const char *r;
    double t0 = now_ms();
    budget = b;
    r = run(L, code, msg, n);
    *ms = now_ms() - t0;
    return r;
}

/* Under valgrind everything is ~50x slower: the time limit is skipped. */
static int under_valgrind(void)
{
    const char *pre = getenv("LD_PRELOAD");
    return pre != NULL && strstr(pre, "vgpreload") != NULL;
}

/* The checks of budget_stops_pathological_patterns, on a state the caller
 * closes (so a failed ASSERT leaks nothing). */
static void budget_checks(lua_State *L)
{
    static const char *const slow[] = {
        "bounded.find(string.rep('a', 400), string.rep('a*', 20) .. 'b')",
        "bounded.match(string.rep('a', 400), string.rep('a-', 20) .. 'b')",
        "for _ in bounded.gmatch(string.rep('a', 400), "
        "string.rep('a*', 20) .. 'b') do end",
        "bounded.gsub(string.rep('a', 400), string.rep('(a*)', 20) .. 'b', "
        "'')",
        "bounded.find(string.rep('a', 400), string.rep('(.-)', 8) .. 'x')",
        /* plain search with a needle that almost matches everywhere */
        "bounded.find(string.rep('a', 200000), string.rep('a', 100) .. 'b',"
        " 1, true)",
        /* a long replacement on many empty matches with empty output */
        "bounded.gsub(string.rep('a', 2000), '(x*)', string.rep('%1', "
        "2000))",
    };
    char msg[256];
    double ms;
    for (size_t i = 0; i < sizeof slow / sizeof *slow; i++) {
        const char *e = with_budget(L, 1000000, slow[i], msg, sizeof msg, &ms);
        printf("     pathological #%zu: %.2f ms\n", i + 1, ms);
        ASSERT_STR(e, "test:1: pattern too complex (work budget exhausted)");
        ASSERT(ms < 100 || under_valgrind());
        ASSERT_EQ(budget, 0);
    }
    /* Normal work fits the same budget, and is charged. */
    if (with_budget(L, 1000000,
                    "local s = string.rep('key=value; ', 200)\n"
                    "assert(select(2, bounded.gsub(s, '(%w+)=(%w+)', "
                    "'%2=%1')) == 200)\n"
                    "assert(bounded.find(s, 'value;', 100, true) == 104)\n"
                    "assert(bounded.match(s, '^(%a+)') == 'key')\n"
                    "local n = 0\n"
                    "for k, v in bounded.gmatch(s, '(%w+)=(%w+)') do\n"
                    "  n = n + 1 end\n"
                    "assert(n == 200)\n",
                    msg, sizeof msg, &ms) != NULL)
        HARNESS_FAIL("normal patterns failed: %s", msg);
    printf("     normal patterns: %.2f ms, %ld steps\n", ms, 1000000 - budget);
    ASSERT(budget > 0 && budget < 1000000);
    /* An exhausted budget fails the next call at once; a refill works. */
    budget = 0;
    ASSERT(run(L, "bounded.find('a', 'a*')", msg, sizeof msg) != NULL);
    ASSERT_STR(msg, "test:1: pattern too complex (work budget exhausted)");
    budget = 100;
    ASSERT(run(L, "assert(bounded.find('abc', 'b+') == 2)", msg, sizeof msg) ==
           NULL);
}

TEST(budget_stops_pathological_patterns)
{
    lua_State *L = new_state();
    ASSERT(L != NULL);
    budget_checks(L);
    lua_close(L);
}

int main(void)
{
    RUN(fixed_differential);
    RUN(special_differential);
    RUN(random_differential);
    RUN(install_sets_four_functions);
    RUN(budget_stops_pathological_patterns);
    return HARNESS_EXIT();
}
