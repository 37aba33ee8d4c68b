/* test_doc.c: unit tests of the YAML and JSON document parsers (doc*.c):
 * tree shape, positions, core schema, every rejection and error paths. */
#include "doc.h"
#include "harness.h"

/* ---- Helpers ---- */

static doc_node *parse(const char *fmt, const char *text)
{
    char *err = NULL;
    doc_node *root = limitr__doc_parse(text, strlen(text), fmt, &err);
    if (root == NULL)
        fprintf(stderr, "  unexpected error: %s\n", err ? err : "(oom)");
    free(err);
    return root;
}

/* The error message for text, or NULL when it parsed (tree freed). */
static char *parse_err_n(const char *fmt, const char *text, size_t len)
{
    char *err = NULL;
    doc_node *root = limitr__doc_parse(text, len, fmt, &err);
    if (root != NULL) {
        limitr__doc_free(root);
        return NULL;
    }
    return err;
}

#define ASSERT_ERR_N(fmt, text, len, want)                                     \
    do {                                                                       \
        char *e_ = parse_err_n((fmt), (text), (len));                          \
        int ok_ = e_ != NULL && strcmp(e_, (want)) == 0;                       \
        if (!ok_)                                                              \
            fprintf(stderr, "  got      \"%s\"\n  expected \"%s\"\n",          \
                    e_ ? e_ : "(parsed)", (want));                             \
        free(e_);                                                              \
        if (!ok_) HARNESS_FAIL("error for %s", #text);                         \
    } while (0)

#define ASSERT_ERR(fmt, text, want) ASSERT_ERR_N(fmt, text, strlen(text), want)

/* Looks up a dotted chain of keys ("a.b.c") from a node. */
static const doc_node *at(const doc_node *node, const char *dotted)
{
    char key[64];
    while (node != NULL && *dotted != '\0') {
        size_t n = strcspn(dotted, ".");
        const doc_pair *pair;
        if (n >= sizeof key) return NULL;
        memcpy(key, dotted, n);
        key[n] = '\0';
        pair = limitr__doc_get(node, key);
        node = pair ? pair->value : NULL;
        dotted += n;
        if (*dotted == '.') dotted++;
    }
    return node;
}

/* Same shape, types and values (positions ignored). */
static int same_tree(const doc_node *a, const doc_node *b)
{
    if (a == NULL || b == NULL) return a == b;
    if (a->type != b->type || a->count != b->count) return 0;
    switch (a->type) {
    case DOC_BOOL:
        return a->boolean == b->boolean;
    case DOC_NUMBER:
        return a->number == b->number && strcmp(a->text, b->text) == 0;
    case DOC_STRING:
        return a->text_len == b->text_len &&
               memcmp(a->text, b->text, a->text_len) == 0;
    case DOC_MAP:
        for (size_t i = 0; i < a->count; i++)
            if (strcmp(a->pairs[i].key, b->pairs[i].key) != 0 ||
                !same_tree(a->pairs[i].value, b->pairs[i].value))
                return 0;
        return 1;
    case DOC_LIST:
        for (size_t i = 0; i < a->count; i++)
            if (!same_tree(a->items[i], b->items[i])) return 0;
        return 1;
    default:
        return 1;
    }
}

static char *repeat(const char *head, const char *unit, size_t n,
                    const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1), *p = s;
    if (s == NULL) return NULL;
    memcpy(p, head, hl);
    p += hl;
    for (size_t i = 0; i < n; i++, p += ul)
        memcpy(p, unit, ul);
    memcpy(p, tail, tl + 1);
    return s;
}

static const char seats_yaml[] =
    "policy:\n"
    "  credits:\n"
    "    seat:\n"
    "      description: 'A single seat credit that can be tracked per "
    "customer.'\n"
    "  plans:\n"
    "    free:\n"
    "      entitlements:\n"
    "        seats:\n"
    "          description: 'Each customer (user, org, etc.) with this "
    "plan can have up to this many seats.'\n"
    "          limit:\n"
    "            credit: 'seat'\n"
    "            value: 1\n"
    "            increment: 1\n"
    "    paid:\n"
    "      entitlements:\n"
    "        seats:\n"
    "          description: 'Each customer (user, org, etc.) with this "
    "plan can have up to this many seats.'\n"
    "          limit:\n"
    "            credit: 'seat'\n"
    "            value: 3\n"
    "            increment: 1\n";

static const char seats_json[] =
    "{\n"
    "  \"policy\": {\n"
    "    \"credits\": {\n"
    "      \"seat\": {\n"
    "        \"description\": \"A single seat credit that can be tracked "
    "per customer.\"\n"
    "      }\n"
    "    },\n"
    "    \"plans\": {\n"
    "      \"free\": {\n"
    "        \"entitlements\": {\n"
    "          \"seats\": {\n"
    "            \"description\": \"Each customer (user, org, etc.) with "
    "this plan can have up to this many seats.\",\n"
    "            \"limit\": {\"credit\": \"seat\", \"value\": 1, "
    "\"increment\": 1}\n"
    "          }\n"
    "        }\n"
    "      },\n"
    "      \"paid\": {\n"
    "        \"entitlements\": {\n"
    "          \"seats\": {\n"
    "            \"description\": \"Each customer (user, org, etc.) with "
    "this plan can have up to this many seats.\",\n"
    "            \"limit\": {\"credit\": \"seat\", \"value\": 3, "
    "\"increment\": 1}\n"
    "          }\n"
    "        }\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "}\n";

/* ---- Trees and positions ---- */

TEST(seats_same_tree)
{
    doc_node *y = parse("yaml", seats_yaml);
    doc_node *j = parse("json", seats_json);
    int same = same_tree(y, j);
    const doc_node *v = at(y, "policy.plans.paid.entitlements.seats.limit");

    ASSERT(y != NULL && j != NULL);
    ASSERT(v != NULL && v->type == DOC_MAP && v->count == 3);
    ASSERT_STR(v->pairs[0].key, "credit");
    ASSERT_STR(v->pairs[1].key, "value");
    ASSERT_STR(v->pairs[2].key, "increment");
    ASSERT_EQ(v->pairs[1].value->type, DOC_NUMBER);
    ASSERT_NUM(v->pairs[1].value->number, 3);
    ASSERT_STR(v->pairs[1].value->text, "3");
    ASSERT_EQ(at(y, "policy.plans")->count, 2);
    ASSERT_STR(at(y, "policy.plans")->pairs[0].key, "free");
    limitr__doc_free(y);
    limitr__doc_free(j);
    ASSERT(same);
}

TEST(yaml_positions)
{
    doc_node *y = parse("yaml", seats_yaml);
    const doc_node *limit = at(y, "policy.plans.free.entitlements.seats.limit");
    const doc_node *credit = at(limit, "credit");
    const doc_pair *pair = limitr__doc_get(limit, "credit");
    int ok = limit && credit && pair;
    int line = ok ? credit->line : 0, col = ok ? credit->col : 0;
    int kline = ok ? pair->key_line : 0, kcol = ok ? pair->key_col : 0;
    int rline = y ? y->line : 0, rcol = y ? y->col : 0;
    int lline = ok ? limit->line : 0, lcol = ok ? limit->col : 0;

    limitr__doc_free(y);
    ASSERT(ok);
    /* docs/policy.md section 14: credit: 'seat' on line 11 is at 11:21. */
    ASSERT_EQ(line, 11);
    ASSERT_EQ(col, 21);
    ASSERT_EQ(kline, 11);
    ASSERT_EQ(kcol, 13);
    ASSERT_EQ(rline, 1);
    ASSERT_EQ(rcol, 1);
    ASSERT_EQ(lline, 11); /* a block mapping starts at its first key */
    ASSERT_EQ(lcol, 13);
}

TEST(positions_count_characters)
{
    /* é and ü are two bytes each but one column. */
    doc_node *y = parse("yaml", "policy:\n  \xc3\xa9t\xc3\xa9: \xc3\xbc\n"
                                "  b: [1, \"\xc3\xa9\", x]\n");
    doc_node *j = parse("json", "{\"\xc3\xa9\": \"x\", \"b\": 1,\n"
                                " \"c\": [\"\xc3\xbc\xc3\xbc\", 2]}");
    const doc_node *p = at(y, "policy");
    int ok = y && j && p && p->count == 2 && j->count == 3;
    int yv_col = ok ? p->pairs[0].value->col : 0;
    int yk_col = ok ? p->pairs[1].key_col : 0;
    int yx_col = ok ? p->pairs[1].value->items[2]->col : 0;
    int jk_col = ok ? j->pairs[1].key_col : 0;
    int jv_col = ok ? j->pairs[1].value->col : 0;
    int jc_line = ok ? j->pairs[2].key_line : 0;
    int j2_col = ok ? j->pairs[2].value->items[1]->col : 0;

    limitr__doc_free(y);
    limitr__doc_free(j);
    ASSERT(ok);
    ASSERT_EQ(yv_col, 8); /* "  été: ü": ü is the 8th character */
    ASSERT_EQ(yk_col, 3);
    ASSERT_EQ(yx_col, 15); /* "  b: [1, "é", x]" */
    ASSERT_EQ(jk_col, 12); /* {"é": "x", "b" */
    ASSERT_EQ(jv_col, 17);
    ASSERT_EQ(jc_line, 2);
    ASSERT_EQ(j2_col, 14); /*  "c": ["üü", 2] */
}

TEST(json_types)
{
    doc_node *j = parse("json", "{\"a\": null, \"b\": true, \"c\": false, "
                                "\"d\": -12.5e3, \"e\": \"s\", \"f\": [], "
                                "\"g\": {}, \"h\": 0, \"i\": 1E+2}");
    int ok = j && j->count == 9;
    doc_type t[9];
    double d = 0, i = 0;
    char dtext[16] = "";

    for (size_t k = 0; ok && k < 9; k++)
        t[k] = j->pairs[k].value->type;
    if (ok) {
        d = j->pairs[3].value->number;
        i = j->pairs[8].value->number;
        snprintf(dtext, sizeof dtext, "%s", j->pairs[3].value->text);
        ok = j->pairs[1].value->boolean == 1 && j->pairs[2].value->boolean == 0;
    }
    limitr__doc_free(j);
    ASSERT(ok);
    ASSERT_EQ(t[0], DOC_NULL);
    ASSERT_EQ(t[1], DOC_BOOL);
    ASSERT_EQ(t[2], DOC_BOOL);
    ASSERT_EQ(t[3], DOC_NUMBER);
    ASSERT_EQ(t[4], DOC_STRING);
    ASSERT_EQ(t[5], DOC_LIST);
    ASSERT_EQ(t[6], DOC_MAP);
    ASSERT_EQ(t[7], DOC_NUMBER);
    ASSERT_NUM(d, -12500);
    ASSERT_STR(dtext, "-12.5e3");
    ASSERT_NUM(i, 100);
}

/* ---- YAML core schema ---- */

static const char core_yaml[] = "policy:\n"
                                "  a: yes\n"
                                "  b: on\n"
                                "  c: 1e9\n"
                                "  d: 1GB\n"
                                "  e: \"1\"\n"
                                "  f: ~\n"
                                "  g:\n"
                                "  h: true\n"
                                "  i: False\n"
                                "  j: 0x1F\n"
                                "  k: 0o17\n"
                                "  l: -.5\n"
                                "  m: +12\n"
                                "  n: 007\n"
                                "  o: 100_000\n"
                                "  p: 30days\n"
                                "  q: Null\n"
                                "  r: '~'\n"
                                "  s: |\n"
                                "    text\n"
                                "  t: 1.\n"
                                "  u: 0.5\n"
                                "  v: '1e9'\n"
                                "  w: TRUE\n"
                                "  x: off\n"
                                "  y: 1.5E-3\n"
                                "  z: !lua function() end\n"
                                "  zz: >\n"
                                "    folded\n"
                                "    text\n"
                                "  2: int key\n"
                                "  true: bool key\n";

TEST(yaml_core_schema)
{
    doc_node *y = parse("yaml", core_yaml);
    const doc_node *p = at(y, "policy");
    struct {
        const char *key;
        doc_type type;
        const char *text;
        double number;
    } want[] = {
        {"a", DOC_STRING, "yes", 0},
        {"b", DOC_STRING, "on", 0},
        {"c", DOC_NUMBER, "1e9", 1e9},
        {"d", DOC_STRING, "1GB", 0},
        {"e", DOC_STRING, "1", 0},
        {"f", DOC_NULL, NULL, 0},
        {"g", DOC_NULL, NULL, 0},
        {"h", DOC_BOOL, NULL, 1},
        {"i", DOC_BOOL, NULL, 0},
        {"j", DOC_NUMBER, "31", 31},
        {"k", DOC_NUMBER, "15", 15},
        {"l", DOC_NUMBER, "-0.5", -0.5},
        {"m", DOC_NUMBER, "12", 12},
        {"n", DOC_NUMBER, "7", 7},
        {"o", DOC_STRING, "100_000", 0},
        {"p", DOC_STRING, "30days", 0},
        {"q", DOC_NULL, NULL, 0},
        {"r", DOC_STRING, "~", 0},
        {"s", DOC_STRING, "text\n", 0},
        {"t", DOC_NUMBER, "1", 1},
        {"u", DOC_NUMBER, "0.5", 0.5},
        {"v", DOC_STRING, "1e9", 0},
        {"w", DOC_BOOL, NULL, 1},
        {"x", DOC_STRING, "off", 0},
        {"y", DOC_NUMBER, "1.5E-3", 1.5e-3},
        {"z", DOC_STRING, "function() end", 0},
        {"zz", DOC_STRING, "folded text\n", 0},
        {"2", DOC_STRING, "int key", 0},
        {"true", DOC_STRING, "bool key", 0},
    };
    size_t n = sizeof want / sizeof want[0];
    int lua_z = 0, lua_a = 1;
    char msg[200] = "";

    for (size_t i = 0; p && i < n && msg[0] == '\0'; i++) {
        const doc_node *v = at(p, want[i].key);
        if (v == NULL || v->type != want[i].type) {
            snprintf(msg, sizeof msg, "key %s: type %d", want[i].key,
                     v ? (int)v->type : -1);
        } else if (want[i].text && strcmp(v->text, want[i].text) != 0) {
            snprintf(msg, sizeof msg, "key %s: text '%s'", want[i].key,
                     v->text);
        } else if ((v->type == DOC_NUMBER && v->number != want[i].number) ||
                   (v->type == DOC_BOOL && v->boolean != (int)want[i].number)) {
            snprintf(msg, sizeof msg, "key %s: value", want[i].key);
        }
    }
    if (p) {
        lua_z = at(p, "z")->lua_tag;
        lua_a = at(p, "a")->lua_tag;
    }
    n = p ? p->count : 0;
    limitr__doc_free(y);
    ASSERT(p != NULL);
    if (msg[0] != '\0') HARNESS_FAIL("%s", msg);
    ASSERT_EQ(n, sizeof want / sizeof want[0]);
    ASSERT_EQ(lua_z, 1);
    ASSERT_EQ(lua_a, 0);
}

TEST(yaml_big_radix)
{
    char *big = repeat("policy: 0x", "F", 200, "\n");
    char *huge = repeat("policy: 0x", "F", 300, "\n");
    char *oct = repeat("policy: 0o", "7", 400, "\n");
    char *zeros = repeat("policy: 0x", "0", 5000, "10\n");
    doc_node *b = parse("yaml", big);
    doc_node *z = parse("yaml", zeros);
    const doc_node *v = at(b, "policy");
    int ok = v && v->type == DOC_NUMBER && v->text_len == 241 &&
             v->number > 6.6e240 && v->number < 6.7e240;
    int zok = at(z, "policy") && at(z, "policy")->number == 16;

    limitr__doc_free(b);
    limitr__doc_free(z);
    ASSERT_ERR("yaml", huge, "policy: expected a finite number at 1:9");
    ASSERT_ERR("yaml", oct, "policy: expected a finite number at 1:9");
    free(big);
    free(huge);
    free(oct);
    free(zeros);
    ASSERT(ok);
    ASSERT(zok);
}

TEST(yaml_non_finite)
{
    ASSERT_ERR("yaml", "policy:\n  x: .inf\n",
               "x: expected a finite number at 2:6");
    ASSERT_ERR("yaml", "policy:\n  x: -.Inf\n",
               "x: expected a finite number at 2:6");
    ASSERT_ERR("yaml", "policy:\n  x: .NaN\n",
               "x: expected a finite number at 2:6");
    ASSERT_ERR("yaml", "policy:\n  x: [1e400]\n",
               "x[0]: expected a finite number at 2:7");
    ASSERT_ERR("json", "{\"policy\": 1e400}",
               "policy: expected a finite number at 1:12");
    ASSERT_ERR("json", "[-1e999]", "[0]: expected a finite number at 1:2");
}

TEST(empty_documents)
{
    const char *yamls[] = {"", "   \n", "# only a comment\n", "---\n",
                           "---\n...\n"};
    const char *jsons[] = {"", "  \n\t \r\n"};

    for (size_t i = 0; i < sizeof yamls / sizeof yamls[0]; i++) {
        doc_node *n = parse("yaml", yamls[i]);
        int t = n ? (int)n->type : -1;
        limitr__doc_free(n);
        ASSERT_EQ(t, DOC_NULL);
    }
    for (size_t i = 0; i < sizeof jsons / sizeof jsons[0]; i++) {
        doc_node *n = parse("json", jsons[i]);
        int t = n ? (int)n->type : -1;
        limitr__doc_free(n);
        ASSERT_EQ(t, DOC_NULL);
    }
    {
        char *err = NULL;
        doc_node *n = limitr__doc_parse(NULL, 0, "json", &err);
        int t = n ? (int)n->type : -1;
        limitr__doc_free(n);
        ASSERT(err == NULL);
        ASSERT_EQ(t, DOC_NULL);
    }
    {
        /* err may be NULL: the message is dropped, nothing leaks */
        doc_node *n = limitr__doc_parse("[1,]", 4, "json", NULL);
        ASSERT(n == NULL);
        n = limitr__doc_parse("[1]", 3, "json", NULL);
        ASSERT(n != NULL);
        ASSERT(limitr__doc_get(n, "a") == NULL); /* not a map */
        ASSERT(limitr__doc_get(NULL, "a") == NULL);
        limitr__doc_free(n);
        limitr__doc_free(NULL);
    }
    ASSERT_ERR("xml", "<a/>",
               "(document): unknown document format 'xml' (use yaml or "
               "json)");
}

/* ---- Rejections ---- */

TEST(duplicate_keys)
{
    ASSERT_ERR("yaml", "policy:\n  plans:\n    free: 1\n    free: 2\n",
               "plans: duplicate key 'free' at 4:5");
    ASSERT_ERR("json",
               "{\"policy\": {\"plans\": {\"free\": 1,\n \"free\": 2}}}",
               "plans: duplicate key 'free' at 2:2");
    ASSERT_ERR("yaml", "policy: 1\npolicy: 2\n",
               "(document): duplicate key 'policy' at 2:1");
    /* Quoting does not make a different key. */
    ASSERT_ERR("yaml", "policy: {a: 1, 'a': 2}\n",
               "policy: duplicate key 'a' at 1:16");
    ASSERT_ERR("json", "{\"a\": 1, \"\\u0061\": 2}",
               "(document): duplicate key 'a' at 1:10");
}

TEST(duplicate_keys_big_map)
{
    /* More than 8 keys switches to the hash set. */
    char *text = malloc(20000), *p = text;
    doc_node *ok_tree;
    for (int i = 0; i < 1000; i++)
        p += sprintf(p, "k%d: %d\n", i, i);
    ok_tree = parse("yaml", text);
    ASSERT(ok_tree != NULL && ok_tree->count == 1000);
    ASSERT(limitr__doc_get(ok_tree, "k999") != NULL);
    ASSERT_EQ(limitr__doc_get(ok_tree, "k999")->key_line, 1000);
    limitr__doc_free(ok_tree);
    sprintf(p, "k500: again\n");
    ASSERT_ERR("yaml", text, "(document): duplicate key 'k500' at 1001:1");
    free(text);
}

TEST(anchors_and_aliases)
{
    ASSERT_ERR("yaml", "policy:\n  a: &x 1\n  b: *x\n",
               "a: YAML anchors and aliases are not allowed at 2:6");
    ASSERT_ERR("yaml", "policy:\n  a: 1\n  b: *x\n",
               "b: YAML anchors and aliases are not allowed at 3:6");
    ASSERT_ERR("yaml", "policy: &p\n  a: 1\n",
               "policy: YAML anchors and aliases are not allowed at 1:9");
    ASSERT_ERR("yaml", "policy:\n  l: [a, &y b]\n",
               "l[1]: YAML anchors and aliases are not allowed at 2:10");
    ASSERT_ERR("yaml", "policy:\n  &k a: 1\n",
               "policy: YAML anchors and aliases are not allowed at 2:3");
    ASSERT_ERR("yaml", "policy:\n  x:\n    <<: {a: 2}\n",
               "x: YAML anchors and aliases are not allowed at 3:5");
    /* A quoted "<<" is an ordinary key. */
    doc_node *n = parse("yaml", "policy:\n  '<<': 1\n");
    ASSERT(n != NULL);
    limitr__doc_free(n);
}

TEST(tags)
{
    doc_node *n;

    ASSERT_ERR("yaml", "policy:\n  v: !!str 5\n",
               "v: YAML tag '!!str' is not allowed at 2:6");
    ASSERT_ERR("yaml", "policy:\n  v: !!map {a: 1}\n",
               "v: YAML tag '!!map' is not allowed at 2:6");
    ASSERT_ERR("yaml", "policy:\n  v: !foo x\n",
               "v: YAML tag '!foo' is not allowed at 2:6");
    ASSERT_ERR("yaml", "policy:\n  v: !<tag:x.org,1:y> x\n",
               "v: YAML tag 'tag:x.org,1:y' is not allowed at 2:6");
    ASSERT_ERR("yaml", "policy:\n  v: !lua {a: 1}\n",
               "v: YAML tag '!lua' is only allowed on a string at 2:6");
    ASSERT_ERR("yaml", "policy:\n  v: !lua\n    - a\n",
               "v: YAML tag '!lua' is only allowed on a string at 2:6");
    ASSERT_ERR("yaml", "policy:\n  !!str v: 1\n",
               "policy: YAML tag '!!str' is not allowed at 2:3");
    ASSERT_ERR("yaml", "policy:\n  !lua v: 1\n",
               "policy: YAML tag '!lua' is not allowed at 2:3");
    /* %TAG can rebind '!': that is no longer the !lua tag. */
    ASSERT_ERR("yaml", "%TAG ! tag:x.org,1:\n---\npolicy: !lua x\n",
               "policy: YAML tag 'tag:x.org,1:lua' is not allowed at 3:9");

    n = parse("yaml", "policy:\n  lua: !lua |\n    x = 1\n  v: !lua 5\n");
    ASSERT(n != NULL);
    ASSERT_EQ(at(n, "policy.lua")->lua_tag, 1);
    ASSERT_EQ(at(n, "policy.lua")->type, DOC_STRING);
    ASSERT_STR(at(n, "policy.lua")->text, "x = 1\n");
    ASSERT_EQ(at(n, "policy.v")->type, DOC_STRING); /* tag wins */
    ASSERT_STR(at(n, "policy.v")->text, "5");
    limitr__doc_free(n);
}

TEST(non_string_keys)
{
    ASSERT_ERR("yaml", "policy:\n  ? [a]\n  : 1\n",
               "policy: mapping keys must be strings at 2:5");
    ASSERT_ERR("yaml", "{[a]: 1}\n",
               "(document): mapping keys must be strings at 1:2");
    ASSERT_ERR("yaml", "policy:\n  ? {a: 1}\n  : 1\n",
               "policy: mapping keys must be strings at 2:5");
    ASSERT_ERR("json", "{1: 2}",
               "(document): JSON syntax error: unexpected character '1', "
               "expected a string key at 1:2");
}

TEST(nul_characters)
{
    ASSERT_ERR("yaml", "policy: \"a\\0b\"\n",
               "policy: string contains a NUL character at 1:9");
    ASSERT_ERR("yaml", "policy:\n  \"k\\0\": 1\n",
               "[\"k\\u0000\"]: string contains a NUL character at 2:3");
    ASSERT_ERR("json", "{\"policy\": [\"a\\u0000\"]}",
               "policy[0]: string contains a NUL character at 1:13");
    ASSERT_ERR("json", "{\"policy\": {\"a\\u0000b\": 1}}",
               "[\"a\\u0000b\"]: string contains a NUL character at 1:13");
    ASSERT_ERR_N("yaml", "a: b\0c", 6,
                 "(document): YAML syntax error: control characters are "
                 "not allowed at 1:5");
    ASSERT_ERR_N("json", "[\"b\0\"]", 6,
                 "(document): JSON syntax error: control character in "
                 "string (use an escape) at 1:4");
}

TEST(nesting_depth)
{
    /* Root mapping is level 1: `policy` + 31 lists is the limit. */
    char *ok_y = repeat("policy: ", "[", 31, "");
    char *bad_y = repeat("policy: ", "[", 32, "");
    char *want_y =
        repeat("policy", "[0]", 31, ": nesting deeper than 32 levels at 1:40");
    char *ok_j = repeat("", "[", 32, "");
    char *bad_j = repeat("", "[", 100000, "");
    char *want_j =
        repeat("", "[0]", 32, ": nesting deeper than 32 levels at 1:33");
    char *bad_jo = repeat("", "{\"a\":", 40, "1");
    char *want_jo =
        repeat("a", ".a", 31, ": nesting deeper than 32 levels at 1:161");
    char *bad_yb = malloc(4096), *p = bad_yb;
    doc_node *n;

    /* the closing brackets: a valid, maximally deep document */
    char *ok_y2 = malloc(strlen(ok_y) + 40);
    char *ok_j2 = malloc(strlen(ok_j) + 40);
    sprintf(ok_y2, "%s%.*s\n", ok_y, 31,
            "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    sprintf(ok_j2, "%s%.*s", ok_j, 32,
            "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    n = parse("yaml", ok_y2);
    ASSERT(n != NULL);
    limitr__doc_free(n);
    n = parse("json", ok_j2);
    ASSERT(n != NULL);
    limitr__doc_free(n);

    ASSERT_ERR("yaml", bad_y, want_y);
    ASSERT_ERR("json", bad_j, want_j);
    ASSERT_ERR("yaml", bad_j, want_j); /* libyaml streams: no deep stack */
    ASSERT_ERR("json", bad_jo, want_jo);

    /* block style: each level indented by one more space */
    for (int i = 0; i < 33; i++)
        p += sprintf(p, "%*sk:\n", i, "");
    sprintf(p, "%*sk: 1\n", 33, "");
    {
        char *want =
            repeat("k", ".k", 31, ": nesting deeper than 32 levels at 33:33");
        ASSERT_ERR("yaml", bad_yb, want);
        free(want);
    }
    free(ok_y);
    free(bad_y);
    free(want_y);
    free(ok_j);
    free(bad_j);
    free(want_j);
    free(bad_jo);
    free(want_jo);
    free(bad_yb);
    free(ok_y2);
    free(ok_j2);
}

TEST(document_size)
{
    size_t max = LIMITR_DEFAULT_MAX_DOCUMENT;
    char *big = malloc(max + 1);
    char *err = NULL;
    doc_node *n;

    memset(big, ' ', max + 1);
    big[0] = '{';
    big[max - 1] = '}';
    n = limitr__doc_parse(big, max, "json", &err); /* exactly 8 MiB */
    ASSERT(n != NULL && n->type == DOC_MAP);
    limitr__doc_free(n);
    n = limitr__doc_parse(big, max, "yaml", &err);
    ASSERT(n != NULL && n->type == DOC_MAP);
    limitr__doc_free(n);
    ASSERT_ERR_N("json", big, max + 1,
                 "(document): document larger than 8 MiB");
    ASSERT_ERR_N("yaml", big, max + 1,
                 "(document): document larger than 8 MiB");
    free(big);
}

TEST(multiple_documents)
{
    ASSERT_ERR("yaml", "policy: 1\n---\npolicy: 2\n",
               "(document): only one YAML document is allowed at 2:1");
    ASSERT_ERR("yaml", "--- a\n--- b\n",
               "(document): only one YAML document is allowed at 2:1");
    ASSERT_ERR("yaml", "a: 1\n...\n---\nb: 2\n",
               "(document): only one YAML document is allowed at 3:1");
}

TEST(yaml_syntax_errors)
{
    ASSERT_ERR("yaml", "policy: [1, 2\n",
               "(document): YAML syntax error: did not find expected ',' "
               "or ']' at 2:1");
    ASSERT_ERR("yaml", "policy:\n  a: 1\n b: 2\n",
               "(document): YAML syntax error: did not find expected key "
               "at 3:2");
    ASSERT_ERR("yaml", "a: \"x\n",
               "(document): YAML syntax error: found unexpected end of "
               "stream at 2:1");
    ASSERT_ERR("yaml", "a: \xff\n",
               "(document): YAML syntax error: invalid leading UTF-8 "
               "octet at 1:4");
    ASSERT_ERR("yaml", "a: \t- b\n",
               "(document): YAML syntax error: block sequence entries are "
               "not allowed in this context at 1:5");
    ASSERT_ERR("yaml", "a: `x`\n",
               "(document): YAML syntax error: found character that "
               "cannot start any token at 1:4");
}

/* ---- JSON strictness ---- */

TEST(json_strict)
{
    struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"{\"a\": 1,}", "trailing comma is not allowed at 1:9"},
        {"[1, 2,]", "trailing comma is not allowed at 1:7"},
        {"[1 // c\n]", "comments are not allowed at 1:4"},
        {"/* c */ {}", "comments are not allowed at 1:1"},
        {"[NaN]", "invalid literal 'NaN' at 1:2"},
        {"[Infinity]", "invalid literal 'Infinity' at 1:2"},
        {"[-Infinity]", "invalid number at 1:2"},
        {"[True]", "invalid literal 'True' at 1:2"},
        {"[nul]", "invalid literal 'nul' at 1:2"},
        {"[01]", "leading zeros are not allowed at 1:2"},
        {"[-01]", "leading zeros are not allowed at 1:2"},
        {"[1.]", "invalid number at 1:2"},
        {"[.5]", "unexpected character '.' at 1:2"},
        {"[+1]", "unexpected character '+' at 1:2"},
        {"[1e]", "invalid number at 1:2"},
        {"[0x10]", "unexpected character 'x', expected ',' or ']' at 1:3"},
        {"['a']", "unexpected character ''' at 1:2"},
        {"[\"a\tb\"]", "control character in string (use an escape) at 1:4"},
        {"[\"a\nb\"]", "control character in string (use an escape) at 1:4"},
        {"[\"\\x\"]", "invalid escape at 1:3"},
        {"[\"\\u12\"]", "invalid \\u escape at 1:3"},
        {"[\"\\u12G4\"]", "invalid \\u escape at 1:3"},
        {"[\"\\ud800\"]", "unpaired surrogate at 1:3"},
        {"[\"\\ud800\\u0041\"]", "unpaired surrogate at 1:3"},
        {"[\"\\udc00\"]", "unpaired surrogate at 1:3"},
        {"[\"abc", "unterminated string at 1:2"},
        {"[\"\xc3\"]", "invalid UTF-8 at 1:3"},
        {"[\"\xed\xa0\x80\"]", "invalid UTF-8 at 1:3"},
        {"[\"\xc0\xaf\"]", "invalid UTF-8 at 1:3"},
        {"{} {}", "unexpected character '{' after the document at 1:4"},
        {"{\"a\" 1}", "unexpected character '1', expected ':' at 1:6"},
        {"{\"a\": 1 \"b\": 2}",
         "unexpected character '\"', expected ',' or '}' at 1:9"},
        {"[1 2]", "unexpected character '2', expected ',' or ']' at 1:4"},
        {"[", "unexpected end of input at 1:2"},
        {"{\"a\":", "unexpected end of input at 1:6"},
        {"{\"a\": 1", "unexpected end of input at 1:8"},
        {"]", "unexpected ']' at 1:1"},
        {"[,1]", "unexpected character ',' at 1:2"},
        {"\n\n  [\xe2\x82\xac]", "unexpected character U+20AC at 3:4"},
        {"[\xff]", "invalid UTF-8 at 1:2"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[200];
        snprintf(want, sizeof want, "(document): JSON syntax error: %s",
                 cases[i].want);
        ASSERT_ERR("json", cases[i].text, want);
    }
}

TEST(json_unicode_escapes)
{
    doc_node *n = parse("json", "[\"\\u00e9\\u20AC\\ud83d\\ude00\", "
                                "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", "
                                "\"\xf0\x9f\x98\x80 raw\", \"\"]");
    int ok = n && n->type == DOC_LIST && n->count == 4;

    ASSERT(ok);
    ASSERT_STR(n->items[0]->text, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    ASSERT_EQ(n->items[0]->text_len, 9);
    ASSERT_STR(n->items[1]->text, "\"\\/\b\f\n\r\t");
    ASSERT_STR(n->items[2]->text, "\xf0\x9f\x98\x80 raw");
    ASSERT_EQ(n->items[3]->type, DOC_STRING);
    ASSERT_EQ(n->items[3]->text_len, 0);
    limitr__doc_free(n);

    /* A UTF-8 byte order mark is skipped and does not shift columns. */
    n = parse("json", "\xef\xbb\xbf{\"a\": 1}");
    ASSERT(n != NULL);
    ASSERT_EQ(n->col, 1);
    ASSERT_EQ(n->pairs[0].value->col, 7);
    limitr__doc_free(n);
}

/* ---- Paths ---- */

#define ASSERT_PATH(expr, want)                                                \
    do {                                                                       \
        char *p_ = (expr);                                                     \
        int ok_ = p_ != NULL && strcmp(p_, (want)) == 0;                       \
        if (!ok_) fprintf(stderr, "  got \"%s\"\n", p_ ? p_ : "(null)");       \
        free(p_);                                                              \
        if (!ok_) HARNESS_FAIL("%s == %s", #expr, #want);                      \
    } while (0)

TEST(path_format)
{
    ASSERT_PATH(limitr__doc_path_append(NULL, "policy", 6), "policy");
    ASSERT_PATH(limitr__doc_path_append("", "polcy", 5), "polcy");
    ASSERT_PATH(limitr__doc_path_append("(document)", "x", 1), "x");
    ASSERT_PATH(limitr__doc_path_append(NULL, "a.b", 3), "[\"a.b\"]");
    ASSERT_PATH(limitr__doc_path_append("policy", "plans", 5), "plans");
    ASSERT_PATH(limitr__doc_path_append("plans", "free", 4), "plans.free");
    ASSERT_PATH(limitr__doc_path_append("plans", "a.b", 3), "plans[\"a.b\"]");
    ASSERT_PATH(limitr__doc_path_append("policy", "a b", 3), "[\"a b\"]");
    ASSERT_PATH(limitr__doc_path_append("plans", "Ab_9-z", 6), "plans.Ab_9-z");
    ASSERT_PATH(limitr__doc_path_append("x", "a\"b\\c", 5),
                "x[\"a\\\"b\\\\c\"]");
    ASSERT_PATH(limitr__doc_path_append("x", "a\nb\x01", 4),
                "x[\"a\\nb\\u0001\"]");
    ASSERT_PATH(limitr__doc_path_append("x", "", 0), "x[\"\"]");
    ASSERT_PATH(limitr__doc_path_append("x", "\xc3\xa9", 2), "x[\"\xc3\xa9\"]");
    ASSERT_PATH(limitr__doc_path_append("x", "abc", 2), "x.ab");
    ASSERT_PATH(limitr__doc_path_index("credits.token.tiers", 1),
                "credits.token.tiers[1]");
    ASSERT_PATH(limitr__doc_path_index(NULL, 0), "[0]");
    ASSERT_PATH(limitr__doc_path_index("policy", 2), "policy[2]");
    ASSERT_PATH(limitr__doc_path_append("credits.token.tiers[1]", "up_to", 5),
                "credits.token.tiers[1].up_to");
}

TEST(paths_in_errors)
{
    ASSERT_ERR("yaml",
               "policy:\n  credits:\n    token:\n      tiers:\n"
               "        - {up_to: 1}\n        - {up_to: !!int 2}\n",
               "credits.token.tiers[1].up_to: YAML tag '!!int' is not "
               "allowed at 6:19");
    ASSERT_ERR("json",
               "{\"policy\": {\"plans\": {\"a.b\": {\"x\": 1, \"x\": 2}}}}",
               "plans[\"a.b\"]: duplicate key 'x' at 1:39");
    ASSERT_ERR("yaml", "polcy:\n  x: !foo 1\n",
               "polcy.x: YAML tag '!foo' is not allowed at 2:6");
    ASSERT_ERR("yaml", "- !foo 1\n",
               "[0]: YAML tag '!foo' is not allowed at 1:3");
    ASSERT_ERR("yaml", "!foo 1\n",
               "(document): YAML tag '!foo' is not allowed at 1:1");
}

int main(void)
{
    RUN(seats_same_tree);
    RUN(yaml_positions);
    RUN(positions_count_characters);
    RUN(json_types);
    RUN(yaml_core_schema);
    RUN(yaml_big_radix);
    RUN(yaml_non_finite);
    RUN(empty_documents);
    RUN(duplicate_keys);
    RUN(duplicate_keys_big_map);
    RUN(anchors_and_aliases);
    RUN(tags);
    RUN(non_string_keys);
    RUN(nul_characters);
    RUN(nesting_depth);
    RUN(document_size);
    RUN(multiple_documents);
    RUN(yaml_syntax_errors);
    RUN(json_strict);
    RUN(json_unicode_escapes);
    RUN(path_format);
    RUN(paths_in_errors);
    return HARNESS_EXIT();
}
