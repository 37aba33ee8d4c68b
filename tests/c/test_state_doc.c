/* test_state_doc.c: state documents (docs/state.md): export writes the
 * state as one line of JSON, import reads it back all or nothing, and bad
 * documents name their first problem by JSON path. */
#include <stdlib.h>

#include "engine_of.h"
#include "harness.h"

static const char policy[] =
    "policy:\n"
    "  credits: {req: {}}\n"
    "  plans:\n"
    "    free:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        api: {limit: {credit: req, value: 100, resets: true, reset_inc: "
    "1day}}\n";

#define T 1774872000000LL /* 2026-03-30T12:00Z */
#define DAY 86400000LL

static limitr_engine *fresh(void)
{
    limitr_engine *e = engine_of(policy, NULL);
    if (e != NULL) limitr_set_time(e, T);
    return e;
}

static char *copy_export(limitr_engine *e)
{
    const char *json = NULL;
    char *out;
    if (limitr_export(e, NULL, &json, NULL) != LIMITR_OK) return NULL;
    out = malloc(strlen(json) + 1);
    if (out != NULL) strcpy(out, json);
    return out;
}

static double read_value(limitr_engine *e, const char *id)
{
    double v = -1;
    limitr_value(e, id, "api", NULL, &v);
    return v;
}

/* The example of docs/state.md: f2 on free used 80 of its daily 100. */
TEST(export_import_example)
{
    limitr_engine *a = fresh(), *b = fresh();
    char *text, *again;
    ASSERT(a != NULL && b != NULL);
    ASSERT_EQ(limitr_create_customer(a, "f2", "free", NULL, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(a, "f2", "api", 80, NULL), LIMITR_OK);
    text = copy_export(a);
    ASSERT(text != NULL);
    ASSERT_CONTAINS(text, "{\"limitr_state\":1,\"policy\":\"sha256:");
    ASSERT_CONTAINS(text, "\"now\":1774872000000,\"units\":{\"req\":null},"
                          "\"seq\":{\"cap\":0,\"grant\":0,\"hold\":0},"
                          "\"estimates\":{},\"customers\":[{\"alt_ids\":[],");
    ASSERT_CONTAINS(text, "\"meters\":{\"api\":{\"credit\":\"req\","
                          "\"ewma_rate\":null,\"governor_last_refill\":null,"
                          "\"governor_tokens\":null,\"history\":[{\"delta\":"
                          "\"80\",\"ts\":1774872000000}],\"overhead\":\"0\","
                          "\"started\":1774872000000,\"value\":\"80\"}}");
    ASSERT(strchr(text, '\n') == NULL && strchr(text, ' ') == NULL);
    ASSERT_EQ(limitr_import(b, text, strlen(text), 0, NULL), LIMITR_OK);
    again = copy_export(b);
    ASSERT_STR(again, text);
    ASSERT_EQ(limitr_allow(a, "f2", "api", 20, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(b, "f2", "api", 20, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(a, "f2", "api", 1, NULL), LIMITR_DENIED);
    ASSERT_EQ(limitr_allow(b, "f2", "api", 1, NULL), LIMITR_DENIED);
    limitr_advance(b, DAY);
    ASSERT_NUM(read_value(b, "f2"), 0);
    free(text);
    free(again);
    limitr_free(a);
    limitr_free(b);
}

TEST(export_of_one_customer_and_unknown)
{
    limitr_engine *e = fresh();
    const char *json = NULL;
    ASSERT(e != NULL);
    limitr_create_customer(e, "a", NULL, NULL, NULL);
    limitr_create_customer(e, "b", NULL, "{\"alt_ids\":[\"bee\"]}", NULL);
    ASSERT_EQ(limitr_export(e, "bee", &json, NULL), LIMITR_OK);
    ASSERT_CONTAINS(json, "\"id\":\"b\"");
    ASSERT(strstr(json, "\"id\":\"a\"") == NULL);
    ASSERT_EQ(limitr_export(e, "zz", &json, NULL), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_customer");
    limitr_free(e);
}

/* Each bad document: its message, and nothing changed. */
static void expect_refused(limitr_engine *e, const char *doc, int replace,
                           const char *message)
{
    char *before = copy_export(e), *after, error[512];
    int status = limitr_import(e, doc, strlen(doc), replace, NULL);
    snprintf(error, sizeof error, "%s", limitr_last_error(e));
    after = copy_export(e);
    if (status != LIMITR_INVALID || before == NULL || after == NULL ||
        strcmp(before, after) != 0 || strcmp(error, message) != 0) {
        fprintf(stderr,
                "import of %s\n  status %d, error \"%s\"\n  expected "
                "\"%s\"\n",
                doc, status, error, message);
        harness_current_failed = 1;
    }
    free(before);
    free(after);
}

#define HEAD                                                                   \
    "{\"limitr_state\":1,\"policy\":\"sha256:"                                 \
    "0000000000000000000000000000000000000000000000000000000000000000\","      \
    "\"now\":1,"

TEST(bad_documents_name_their_first_problem)
{
    limitr_engine *e = fresh();
    ASSERT(e != NULL);
    limitr_create_customer(e, "u1", NULL, NULL, NULL);
    limitr_allow(e, "u1", "api", 5, NULL);
    expect_refused(e, "{\"limitr_state\":1,", 0,
                   "$: JSON syntax error: unexpected end of input at 1:19");
    expect_refused(e, "[]", 0, "$: expected object, got list");
    expect_refused(e, "{\"limitr_state\":2}", 0,
                   "$.limitr_state: unsupported version 2 (this engine reads "
                   "1)");
    expect_refused(e, "{\"limitr_state\":1,\"policy\":\"md5:x\"}", 0,
                   "$.policy: expected 'sha256:' and 64 hex digits");
    expect_refused(e, HEAD "\"customers\":{}}", 0,
                   "$.customers: expected list, got object");
    expect_refused(e, HEAD "\"customers\":[{\"id\":\"a\"},{\"type\":\"x\"}]}",
                   0, "$.customers[1]: missing required field 'id'");
    expect_refused(e, HEAD "\"customers\":[{\"id\":\"a\",\"colour\":1}]}", 0,
                   "$.customers[0].colour: unknown field 'colour'");
    expect_refused(e,
                   HEAD "\"customers\":[{\"id\":\"a\",\"meters\":{\"api\":{"
                        "\"credit\":\"req\",\"started\":0,\"value\":\"lots\"}}}"
                        "]}",
                   0,
                   "$.customers[0].meters.api.value: invalid decimal 'lots'");
    expect_refused(e,
                   HEAD "\"customers\":[{\"id\":\"a\",\"meters\":{\"api\":{"
                        "\"credit\":\"req\",\"started\":0,\"value\":\"1e40\"}}}"
                        "]}",
                   0,
                   "$.customers[0].meters.api.value: invalid decimal '1e40'");
    expect_refused(e,
                   HEAD "\"customers\":[{\"id\":\"u2\"},{\"id\":\"x\"},{\"id\":"
                        "\"y\",\"alt_ids\":[\"u2\"]}]}",
                   0,
                   "$.customers[2].alt_ids[0]: duplicate id 'u2' (also "
                   "$.customers[0].id)");
    expect_refused(e, HEAD "\"customers\":[{\"id\":\"u1\"}]}", 0,
                   "$.customers[0].id: 'u1' already exists in this engine");
    expect_refused(e,
                   HEAD "\"customers\":[{\"id\":\"a\",\"caps\":[{\"id\":\"k\","
                        "\"credit\":\"rune\",\"value\":\"1\",\"created_on\":0,"
                        "\"resets\":true,\"reset_inc\":5,\"reset_sch\":"
                        "\"monthly:1\"}]}]}",
                   0,
                   "$.customers[0].caps[0]: reset_inc and reset_sch are "
                   "mutually exclusive");
    expect_refused(e,
                   HEAD "\"customers\":[{\"id\":\"a\",\"meters\":{\"api\":{"
                        "\"credit\":\"req\",\"started\":1.5}}}]}",
                   0,
                   "$.customers[0].meters.api.started: expected an integer, "
                   "got 1.5");
    expect_refused(e, HEAD "\"customers\":[{\"id\":\"a\",\"alt_ids\":[\"\"]}]}",
                   0, "$.customers[0].alt_ids[0]: must be 1 to 1024 bytes");
    expect_refused(e,
                   HEAD "\"customers\":[{\"id\":\"a\",\"overrides\":{\"api\":{"
                        "\"credit\":\"req\",\"value\":\"-5\"}}}]}",
                   0,
                   "$.customers[0].overrides.api.value: must not be negative");
    expect_refused(e,
                   HEAD
                   "\"customers\":[{\"id\":\"a\",\"holds\":[{\"id\":5,"
                   "\"entitlement\":\"api\",\"value\":\"1\",\"expires\":9}]},"
                   "{\"id\":\"b\",\"holds\":[{\"id\":5,\"entitlement\":"
                   "\"api\",\"value\":\"1\",\"expires\":9}]}]}",
                   0,
                   "$.customers[1].holds[0].id: duplicate hold id 5 (hold "
                   "numbers are one sequence for every customer)");
    expect_refused(
        e, HEAD "\"seq\":{\"hold\":9007199254740993},\"customers\":[]}", 0,
        "$.seq.hold: 9007199254740993 is out of range (0 to "
        "9007199254740992)");
    expect_refused(e, HEAD "\"customers\":[{\"id\":\"a\",\"a\":1,\"a\":2}]}", 0,
                   "$.customers[0]: duplicate key 'a' at 1:139");
    limitr_free(e);
}

/* Hostile documents: deep nesting and a 100 MB string are refused with
 * their path, quickly and without changing anything. */
TEST(hostile_documents)
{
    limitr_engine *e = fresh();
    size_t big = 100u * 1024u * 1024u, i;
    char *doc, *p;
    ASSERT(e != NULL);
    /* metadata 40 levels deep */
    doc = malloc(4096);
    ASSERT(doc != NULL);
    p = doc + sprintf(doc, HEAD "\"customers\":[{\"id\":\"a\",\"metadata\":");
    for (i = 0; i < 40; i++)
        *p++ = '[';
    for (i = 0; i < 40; i++)
        *p++ = ']';
    strcpy(p, "}]}");
    ASSERT_EQ(limitr_import(e, doc, strlen(doc), 0, NULL), LIMITR_INVALID);
    ASSERT_CONTAINS(limitr_last_error(e), "nest");
    free(doc);
    /* a 100 MB customer ID */
    doc = malloc(big + 256);
    ASSERT(doc != NULL);
    p = doc + sprintf(doc, HEAD "\"customers\":[{\"id\":\"");
    memset(p, 'x', big);
    strcpy(p + big, "\",\"colour\":1}]}");
    ASSERT_EQ(limitr_import(e, doc, strlen(doc), 0, NULL), LIMITR_INVALID);
    ASSERT_STR(limitr_last_error(e),
               "$.customers[0].colour: unknown field 'colour'");
    /* past the size bound */
    ASSERT_EQ(limitr_import(e, doc, 300u * 1024u * 1024u, 0, NULL),
              LIMITR_INVALID);
    ASSERT_STR(limitr_last_error(e), "$: the document is larger than 256 MiB");
    ASSERT_STR(limitr_last_reason(e), "invalid_state");
    free(doc);
    limitr_free(e);
}

TEST(merge_and_replace)
{
    limitr_engine *a = fresh(), *b = fresh();
    char *text, *after;
    const char *result = NULL;
    ASSERT(a != NULL && b != NULL);
    limitr_create_customer(a, "x", NULL, NULL, NULL);
    limitr_allow(a, "x", "api", 7, NULL);
    text = copy_export(a);
    limitr_create_customer(b, "y", NULL, NULL, NULL);
    ASSERT_EQ(limitr_import(b, text, strlen(text), 0, &result), LIMITR_OK);
    ASSERT_CONTAINS(result, "\"customers\":1");
    ASSERT_NUM(read_value(b, "x"), 7);
    ASSERT_EQ(limitr_customer(b, "y", NULL), LIMITR_OK); /* merged */
    ASSERT_EQ(limitr_import(b, text, strlen(text), 1, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_customer(b, "y", NULL), LIMITR_NOT_FOUND); /* replaced */
    after = copy_export(b);
    ASSERT_STR(after, text);
    free(text);
    free(after);
    limitr_free(a);
    limitr_free(b);
}

TEST(another_policy_warns_and_keeps_dormant_state)
{
    static const char other[] =
        "policy:\n"
        "  credits: {req: {}}\n"
        "  plans:\n"
        "    pro:\n"
        "      default: true\n"
        "      entitlements:\n"
        "        chat: {limit: {credit: req, value: 10}}\n";
    limitr_engine *a = fresh(), *b = engine_of(other, NULL);
    char *text, *again;
    const char *result = NULL;
    double v;
    ASSERT(a != NULL && b != NULL);
    limitr_set_time(b, T);
    limitr_create_customer(a, "x", "free", NULL, NULL);
    limitr_allow(a, "x", "api", 7, NULL);
    text = copy_export(a);
    ASSERT_EQ(limitr_import(b, text, strlen(text), 0, &result), LIMITR_OK);
    ASSERT_CONTAINS(result, "$.policy: exported under sha256:");
    ASSERT_CONTAINS(result, "x: own_plan: unknown plan 'free'");
    ASSERT_CONTAINS(result, "x: meters.api: no limit of the policy counts it");
    ASSERT_EQ(limitr_value(b, "x", "api", NULL, &v), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_allow(b, "x", "chat", 10, NULL), LIMITR_OK);
    again = copy_export(b); /* the dormant meter is kept */
    ASSERT_CONTAINS(again, "\"api\":{\"credit\":\"req\"");
    free(text);
    free(again);
    limitr_free(a);
    limitr_free(b);
}

int main(void)
{
    RUN(export_import_example);
    RUN(export_of_one_customer_and_unknown);
    RUN(bad_documents_name_their_first_problem);
    RUN(hostile_documents);
    RUN(merge_and_replace);
    RUN(another_policy_warns_and_keeps_dormant_state);
    return HARNESS_EXIT();
}
