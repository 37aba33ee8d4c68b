/* test_reload.c: a new policy under live state (docs/reload.md): state kept,
 * dormant meters revived, units converted, periods following the new rule,
 * the fingerprint, bad policies changing nothing, policy-reloaded. */
#include "engine_of.h"
#include "harness.h"
#include "recorder.h"
#include "sha256.h"

static const char v1[] =
    "policy:\n"
    "  credits: {req: {}, tok: {}, storage: {units: MB}}\n"
    "  plans:\n"
    "    free:\n"
    "      default: true\n"
    "      entitlements:\n"
    "        api: {limit: {credit: req, value: 100}}\n"
    "        chat: {limit: {credit: tok, value: 1000}}\n"
    "        disk: {limit: {credit: storage, value: 2GB}}\n";

/* api raised to 150, chat gone, storage kept in GB. */
static const char v2[] = "policy:\n"
                         "  credits: {req: {}, tok: {}, storage: {units: GB}}\n"
                         "  plans:\n"
                         "    free:\n"
                         "      default: true\n"
                         "      entitlements:\n"
                         "        api: {limit: {credit: req, value: 150}}\n"
                         "        disk: {limit: {credit: storage, value: 2}}\n";

static int reload(limitr_engine *e, const char *yaml, const char **result)
{
    return limitr_reload(e, yaml, strlen(yaml), "yaml", result);
}

static double read_value(limitr_engine *e, const char *id, const char *ent)
{
    double v = -12345;
    if (limitr_value(e, id, ent, NULL, &v) != LIMITR_OK) return -1;
    return v;
}

static limitr_engine *engine_v1(void)
{
    limitr_engine *e = engine_of(v1, NULL);
    if (e == NULL) return NULL;
    limitr_set_time(e, 1774872000000LL); /* 2026-03-30T12:00Z */
    limitr_create_customer(e, "f", "free", NULL, NULL);
    return e;
}

TEST(sha256_known_digests)
{
    char out[65];
    limitr__sha256_hex("abc", 3, out);
    ASSERT_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61"
                    "f20015ad");
    limitr__sha256_hex("", 0, out);
    ASSERT_STR(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca49599"
                    "1b7852b855");
    /* 56 bytes: the length no longer fits the first padded block */
    limitr__sha256_hex(
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, out);
    ASSERT_STR(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6eced"
                    "d419db06c1");
}

TEST(limit_raised_live_keeps_usage)
{
    limitr_engine *e = engine_v1();
    double limit = 0;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_allow(e, "f", "api", 100, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "f", "api", 1, NULL), LIMITR_DENIED);
    ASSERT_EQ(reload(e, v2, NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "f", "api"), 100);
    ASSERT_EQ(limitr_limit(e, "f", "api", &limit), LIMITR_OK);
    ASSERT_NUM(limit, 150);
    ASSERT_EQ(limitr_allow(e, "f", "api", 50, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "f", "api", 1, NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "limit");
    limitr_free(e);
}

TEST(removed_entitlement_is_dormant_and_comes_back)
{
    limitr_engine *e = engine_v1();
    double v = 0;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_allow(e, "f", "chat", 300, NULL), LIMITR_OK);
    ASSERT_EQ(reload(e, v2, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_value(e, "f", "chat", NULL, &v), LIMITR_NOT_FOUND);
    ASSERT_EQ(limitr_allow(e, "f", "chat", 1, NULL), LIMITR_NOT_FOUND);
    ASSERT_STR(limitr_last_reason(e), "unknown_entitlement");
    ASSERT_EQ(reload(e, v1, NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "f", "chat"), 300);
    limitr_free(e);
}

TEST(units_in_the_same_dimension_convert)
{
    limitr_engine *e = engine_v1();
    const char *result = NULL;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_allow_str(e, "f", "disk", "500MB", NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "f", "disk"), 500);
    ASSERT_EQ(reload(e, v2, &result), LIMITR_OK);
    ASSERT_CONTAINS(result, "units.storage: MB -> GB: every amount in it was "
                            "converted");
    ASSERT_NUM(read_value(e, "f", "disk"), 0.5);
    ASSERT_EQ(limitr_allow(e, "f", "disk", 1.5, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "f", "disk", 0.001, NULL), LIMITR_DENIED);
    limitr_free(e);
}

TEST(a_meter_whose_credit_changed_starts_again)
{
    static const char tok_api[] =
        "policy:\n"
        "  credits: {req: {}, tok: {}, storage: {units: MB}}\n"
        "  plans:\n"
        "    free:\n"
        "      default: true\n"
        "      entitlements:\n"
        "        api: {limit: {credit: tok, value: 100}}\n";
    limitr_engine *e = engine_v1();
    const char *result = NULL;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_allow(e, "f", "api", 80, NULL), LIMITR_OK);
    ASSERT_EQ(reload(e, tok_api, &result), LIMITR_OK);
    ASSERT_CONTAINS(result, "f: meters.api: its limit counts in another "
                            "credit");
    ASSERT_NUM(read_value(e, "f", "api"), 0);
    ASSERT_EQ(limitr_allow(e, "f", "api", 30, NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "f", "api"), 30);
    /* Back on req: the meter now counts tok, so it is dormant again. */
    ASSERT_EQ(reload(e, v1, NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "f", "api"), 0);
    limitr_free(e);
}

TEST(periods_follow_the_new_rule_from_the_start)
{
    static const char monthly[] =
        "policy:\n"
        "  credits: {req: {}}\n"
        "  plans:\n"
        "    free:\n"
        "      default: true\n"
        "      entitlements:\n"
        "        api: {limit: {credit: req, value: 100, resets: true,\n"
        "              reset_sch: 'monthly:1'}}\n";
    static const char weekly[] =
        "policy:\n"
        "  credits: {req: {}}\n"
        "  plans:\n"
        "    free:\n"
        "      default: true\n"
        "      entitlements:\n"
        "        api: {limit: {credit: req, value: 100, resets: true,\n"
        "              reset_inc: 1week}}\n";
    limitr_engine *e = engine_of(monthly, NULL);
    const char *snap = NULL;
    ASSERT(e != NULL);
    limitr_set_time(e, 1772366400000LL); /* 2026-03-01T12:00Z */
    limitr_create_customer(e, "f", "free", NULL, NULL);
    ASSERT_EQ(limitr_allow(e, "f", "api", 10, NULL), LIMITR_OK);
    limitr_set_time(e, 1773100800000LL); /* 2026-03-10T00:00Z */
    ASSERT_EQ(reload(e, weekly, NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "f", "api"), 0); /* a week passed: a new one */
    limitr_set_time(e, 1773964800000LL);      /* 2026-03-20T00:00Z */
    ASSERT_EQ(limitr_allow(e, "f", "api", 1, NULL), LIMITR_OK);
    ASSERT_NUM(read_value(e, "f", "api"), 1);
    ASSERT_EQ(limitr_customer(e, "f", &snap), LIMITR_OK);
    /* the meter started 2026-03-01T12:00Z; two weeks on: 2026-03-15 */
    ASSERT_CONTAINS(snap, "\"started\":1773576000000");
    limitr_free(e);
}

TEST(a_bad_policy_changes_nothing)
{
    limitr_engine *e = engine_v1();
    char before[72];
    ASSERT(e != NULL);
    snprintf(before, sizeof before, "%s", limitr_fingerprint(e));
    ASSERT_EQ(limitr_allow(e, "f", "api", 40, NULL), LIMITR_OK);
    ASSERT_EQ(reload(e,
                     "policy:\n  credits: {req: {}}\n  plans:\n    free:\n"
                     "      entitlements:\n"
                     "        api: {limit: {credit: reqq, value: 1}}\n"
                     "        x: {limit: {credit: req, value: -1}}\n",
                     NULL),
              LIMITR_INVALID);
    ASSERT_STR(limitr_last_reason(e), "invalid_policy");
    ASSERT_CONTAINS(limitr_last_error(e), "unknown credit 'reqq'");
    ASSERT_CONTAINS(limitr_last_error(e), "plans.free.entitlements.x");
    ASSERT_EQ(limitr_reload(e, "x", 1, "toml", NULL), LIMITR_INVALID);
    ASSERT_EQ(limitr_reload_file(e, "/nonexistent/p.yaml", NULL),
              LIMITR_NOT_FOUND);
    ASSERT_CONTAINS(limitr_last_error(e), "/nonexistent/p.yaml");
    ASSERT_STR(limitr_fingerprint(e), before);
    ASSERT_NUM(read_value(e, "f", "api"), 40);
    ASSERT_EQ(limitr_allow(e, "f", "api", 61, NULL), LIMITR_DENIED);
    limitr_free(e);
}

TEST(fingerprint_is_of_the_canonical_text)
{
    limitr_engine *e = engine_v1(), *again = NULL, *json = NULL;
    size_t len = 0;
    const char *text;
    static const char same_json[] =
        "{\"policy\": {\"credits\": {\"req\": {}, \"tok\": {}, \"storage\": "
        "{\"units\": \"MB\"}}, \"plans\": {\"free\": {\"default\": true, "
        "\"entitlements\": {\"api\": {\"limit\": {\"credit\": \"req\", "
        "\"value\": 100.0}}, \"chat\": {\"limit\": {\"credit\": \"tok\", "
        "\"value\": 1e3}}, \"disk\": {\"limit\": {\"credit\": \"storage\", "
        "\"value\": \"2GB\"}}}}}}}";
    ASSERT(e != NULL);
    ASSERT_EQ(strncmp(limitr_fingerprint(e), "sha256:", 7), 0);
    ASSERT_EQ(strlen(limitr_fingerprint(e)), 71);
    text = limitr_policy_text(e, &len);
    ASSERT_EQ(len, strlen(text));
    ASSERT_CONTAINS(text, "{\"policy\":{\"credits\":{\"req\":{},\"tok\":{},"
                          "\"storage\":{\"units\":\"MB\"}},\"plans\"");
    ASSERT_EQ(limitr_new(text, len, "json", NULL, &again), LIMITR_OK);
    ASSERT_STR(limitr_fingerprint(again), limitr_fingerprint(e));
    /* the same document in JSON, numbers written otherwise */
    ASSERT_EQ(limitr_new(same_json, strlen(same_json), NULL, NULL, &json),
              LIMITR_OK);
    ASSERT_STR(limitr_fingerprint(json), limitr_fingerprint(e));
    ASSERT_EQ(reload(e, v2, NULL), LIMITR_OK);
    ASSERT(strcmp(limitr_fingerprint(json), limitr_fingerprint(e)) != 0);
    limitr_free(e);
    limitr_free(again);
    limitr_free(json);
}

TEST(null_keys_drop_and_a_bare_entitlement_is_an_object)
{
    limitr_engine *e = engine_of("policy:\n"
                                 "  version: ~\n"
                                 "  credits: {req: {}}\n"
                                 "  plans:\n"
                                 "    free:\n"
                                 "      default: true\n"
                                 "      entitlements:\n"
                                 "        beta:\n"
                                 "        api: {description: \"a\\\"b\\n\",\n"
                                 "              limit: {credit: req, value: "
                                 "0.1}}\n",
                                 NULL);
    ASSERT(e != NULL);
    ASSERT_STR(limitr_policy_text(e, NULL),
               "{\"policy\":{\"credits\":{\"req\":{}},\"plans\":{\"free\":{"
               "\"default\":true,\"entitlements\":{\"beta\":{},\"api\":{"
               "\"description\":\"a\\\"b\\n\",\"limit\":{\"credit\":"
               "\"req\",\"value\":0.1}}}}}}}");
    limitr_free(e);
}

TEST(governor_tokens_clamp_to_a_lower_capacity)
{
    static const char wide[] =
        "policy:\n"
        "  credits: {req: {}}\n"
        "  plans:\n"
        "    free:\n"
        "      default: true\n"
        "      entitlements:\n"
        "        api: {limit: {credit: req, value: 1000, governor_enabled: "
        "true,\n"
        "              governor_capacity: 50, governor_refill_rate: 1e-9}}\n";
    char narrow[sizeof wide];
    limitr_engine *e = engine_of(wide, NULL);
    char *at;
    ASSERT(e != NULL);
    snprintf(narrow, sizeof narrow, "%s", wide);
    at = strstr(narrow, "capacity: 50");
    ASSERT(at != NULL);
    memcpy(at, "capacity: 10", 12);
    limitr_set_time(e, 1774872000000LL);
    limitr_create_customer(e, "f", "free", NULL, NULL);
    ASSERT_EQ(limitr_allow(e, "f", "api", 5, NULL), LIMITR_OK); /* 45 left */
    ASSERT_EQ(reload(e, narrow, NULL), LIMITR_OK);
    limitr_advance(e, 1);
    ASSERT_EQ(limitr_allow(e, "f", "api", 11, NULL), LIMITR_DENIED);
    ASSERT_STR(limitr_last_reason(e), "governor");
    ASSERT_EQ(limitr_allow(e, "f", "api", 10, NULL), LIMITR_OK);
    limitr_free(e);
}

typedef struct reloader {
    limitr_engine *e;
    int status;
    recorder r;
} reloader;

static const char *reload_inside(const char *name, const char *json, void *ud)
{
    reloader *rl = ud;
    record(name, json, &rl->r);
    if (strcmp(name, "meter-changed") == 0)
        rl->status = reload(rl->e, v2, NULL);
    return NULL;
}

TEST(policy_reloaded_fires_and_reload_inside_delivery_is_refused)
{
    limitr_engine *e = engine_v1();
    reloader rl;
    const char *result = NULL;
    memset(&rl, 0, sizeof rl);
    rl.e = e;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_on(e, "*", reload_inside, &rl, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "f", "api", 1, NULL), LIMITR_OK);
    ASSERT_EQ(rl.status, LIMITR_ERROR);
    ASSERT_CONTAINS(rl.r.names, "meter-changed");
    ASSERT(strstr(rl.r.names, "policy-reloaded") == NULL);
    ASSERT_EQ(reload(e, v2, &result), LIMITR_OK);
    ASSERT_CONTAINS(rl.r.names, "policy-reloaded");
    ASSERT_CONTAINS(rl.r.last, "\"previous\":\"sha256:");
    ASSERT_CONTAINS(rl.r.last, limitr_fingerprint(e));
    ASSERT_CONTAINS(result, "\"current\":\"sha256:");
    limitr_free(e);
}

static const char *seven(const char *args, const char **result, void *ud)
{
    (void)args;
    (void)ud;
    *result = "7";
    return NULL;
}

TEST(host_functions_reach_the_new_policys_snippets)
{
    static const char with_snippet[] =
        "policy:\n"
        "  credits: {req: {}}\n"
        "  plans:\n"
        "    free:\n"
        "      default: true\n"
        "      entitlements:\n"
        "        api:\n"
        "          limit:\n"
        "            credit: req\n"
        "            value: 'function(customer) return App.seven() end'\n";
    limitr_engine *e = engine_v1();
    double limit = 0;
    ASSERT(e != NULL);
    ASSERT_EQ(limitr_lib(e, "App", "seven", seven, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "f", "api", 5, NULL), LIMITR_OK);
    ASSERT_EQ(reload(e, with_snippet, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_limit(e, "f", "api", &limit), LIMITR_OK);
    ASSERT_NUM(limit, 7);
    ASSERT_EQ(limitr_allow(e, "f", "api", 2, NULL), LIMITR_OK);
    ASSERT_EQ(limitr_allow(e, "f", "api", 1, NULL), LIMITR_DENIED);
    limitr_free(e);
}

int main(void)
{
    RUN(sha256_known_digests);
    RUN(limit_raised_live_keeps_usage);
    RUN(removed_entitlement_is_dormant_and_comes_back);
    RUN(units_in_the_same_dimension_convert);
    RUN(a_meter_whose_credit_changed_starts_again);
    RUN(periods_follow_the_new_rule_from_the_start);
    RUN(a_bad_policy_changes_nothing);
    RUN(fingerprint_is_of_the_canonical_text);
    RUN(null_keys_drop_and_a_bare_entitlement_is_an_object);
    RUN(governor_tokens_clamp_to_a_lower_capacity);
    RUN(policy_reloaded_fires_and_reload_inside_delivery_is_refused);
    RUN(host_functions_reach_the_new_policys_snippets);
    return HARNESS_EXIT();
}
