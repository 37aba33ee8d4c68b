/* test_policy.c: loading and validation (docs/policy.md sections 1-6, 13). */
#include "harness.h"
#include "limitr.h"

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
    "          description: 'Each customer (user, org, etc.) with this plan "
    "can have up to this many seats.'\n"
    "          limit:\n"
    "            credit: '%s'\n"
    "            value: 1\n"
    "            increment: 1\n"
    "    paid:\n"
    "      entitlements:\n"
    "        seats:\n"
    "          description: 'Each customer (user, org, etc.) with this plan "
    "can have up to this many seats.'\n"
    "          limit:\n"
    "            credit: 'seat'\n"
    "            value: 3\n"
    "            increment: 1\n";

/* Loads text and returns the error message ("" when it loads). The engine
 * is freed; the message is copied into a static buffer. */
static const char *load_error(const char *text, const char *format)
{
    static char buf[8192];
    limitr_engine *e = NULL;
    int status = limitr_new(text, strlen(text), format, NULL, &e);
    snprintf(buf, sizeof buf, "%s",
             status == LIMITR_OK ? "" : limitr_last_error(e));
    limitr_free(e);
    return buf;
}

/* A policy with one plan `p` and one entitlement `e` whose limit is `limit`
 * (a YAML flow mapping), plus the credits `seat` and `token`. */
static const char *limit_error(const char *limit)
{
    char text[1024];
    snprintf(text, sizeof text,
             "policy:\n"
             "  credits: {seat: {}, token: {}}\n"
             "  plans:\n"
             "    p:\n"
             "      entitlements:\n"
             "        e:\n"
             "          limit: %s\n",
             limit);
    return load_error(text, "yaml");
}

TEST(seats_policy_loads)
{
    char text[2048];
    snprintf(text, sizeof text, seats_yaml, "seat");
    ASSERT_STR(load_error(text, "yaml"), "");
    ASSERT_STR(load_error(text, NULL), ""); /* detected as YAML */
}

TEST(unknown_credit_names_path_position_and_suggestion)
{
    char text[2048];
    snprintf(text, sizeof text, seats_yaml, "seet");
    ASSERT_STR(load_error(text, "yaml"),
               "plans.free.entitlements.seats.limit.credit: unknown credit "
               "'seet' (did you mean 'seat'?) at 11:21");
}

TEST(json_policy_and_its_errors)
{
    const char *ok = "{\"policy\": {\"credits\": {\"seat\": {}},\n"
                     " \"plans\": {\"free\": {\"entitlements\": {\"seats\":\n"
                     "  {\"limit\": {\"credit\": \"seat\", \"value\": 1}}}}}}}";
    const char *bad =
        "{\"policy\": {\"credits\": {\"seat\": {}},\n"
        " \"plans\": {\"free\": {\"entitlements\": {\"seats\":\n"
        "  {\"limit\": {\"credit\": \"seet\", \"value\": 1}}}}}}}";
    ASSERT_STR(load_error(ok, "json"), "");
    ASSERT_STR(load_error(ok, NULL), ""); /* detected as JSON */
    ASSERT_STR(load_error(bad, "json"),
               "plans.free.entitlements.seats.limit.credit: unknown credit "
               "'seet' (did you mean 'seat'?) at 3:24");
}

TEST(wrong_types)
{
    ASSERT_STR(limit_error("{credit: seat, value: ten}"),
               "plans.p.entitlements.e.limit.value: expected a number with "
               "an optional unit, got 'ten' at 7:40");
    ASSERT_STR(limit_error("{credit: [seat]}"),
               "plans.p.entitlements.e.limit.credit: expected string, got "
               "list at 7:27");
    ASSERT_STR(limit_error("5"),
               "plans.p.entitlements.e.limit: expected mapping, got number "
               "at 7:18");
    ASSERT_STR(load_error("policy:\n  plans: []\n", "yaml"),
               "plans: expected mapping, got list at 2:10");
    ASSERT_STR(load_error("policy:\n  plans: {p: {default: yes}}\n", "yaml"),
               "plans.p.default: expected boolean, got string at 2:24");
}

TEST(ranges)
{
    ASSERT_STR(limit_error("{credit: seat, increment: -1}"),
               "plans.p.entitlements.e.limit.increment: must be greater than "
               "0, got -1 at 7:44");
    ASSERT_STR(limit_error("{credit: seat, increment: 0}"),
               "plans.p.entitlements.e.limit.increment: must be greater than "
               "0, got 0 at 7:44");
    ASSERT_STR(limit_error("{credit: seat, value: -2.5}"),
               "plans.p.entitlements.e.limit.value: must not be negative, "
               "got -2.5 at 7:40");
}

/* Mistakes that loaded before (found by review): each one now names its
 * path. */
TEST(fields_that_would_be_ignored_or_misread)
{
    /* a list item is [i], zero-based */
    ASSERT_STR(load_error("policy:\n"
                          "  credits: {t: {}}\n"
                          "  plans:\n"
                          "    p:\n"
                          "      entitlements: {e: {limit: {credit: t}}}\n"
                          "      topups: {x: {credit: t, value: 1, included: "
                          "true, included_scopes: [org, 5]}}\n",
                          "yaml"),
               "plans.p.topups.x.included_scopes[1]: expected string, got "
               "number at 6:80");
    /* an empty scope list would grant every type */
    ASSERT_STR(load_error("policy:\n"
                          "  credits: {t: {}}\n"
                          "  plans:\n"
                          "    p:\n"
                          "      entitlements: {e: {limit: {credit: t}}}\n"
                          "      topups: {x: {credit: t, value: 1, included: "
                          "true, included_scopes: []}}\n",
                          "yaml"),
               "plans.p.topups.x.included_scopes: must name at least one "
               "customer type (leave it out to grant every type) at 6:74");
    /* a snippet of two expressions would keep the first */
    ASSERT_STR(load_error("policy:\n"
                          "  credits: {t: {}}\n"
                          "  handlers: {error: 'function(e) end, function() "
                          "end'}\n"
                          "  plans: {p: {entitlements: {e: {}}}}\n",
                          "yaml"),
               "handlers.error: a snippet must be one expression "
               "(function(...) ... end), not a list of them at 3:21");
    /* ...while a closing ';' is still one expression */
    ASSERT_STR(load_error("policy:\n"
                          "  credits: {t: {}}\n"
                          "  handlers: {error: 'function(e) end; '}\n"
                          "  plans: {p: {entitlements: {e: {}}}}\n",
                          "yaml"),
               "");
    /* a named subscription the plan does not have */
    ASSERT_STR(load_error("policy:\n"
                          "  credits: {t: {}}\n"
                          "  plans: {p: {subscription: fee, entitlements: {e: "
                          "{}}}}\n",
                          "yaml"),
               "plans.p.subscription: plan has no 'fee' entitlement to meter "
               "its fee at 3:29");
    /* a whole duration too big is out of range, not a fraction */
    ASSERT_STR(limit_error("{credit: seat, resets: true, reset_inc: 1e19}"),
               "plans.p.entitlements.e.limit.reset_inc: '1e19' is out of "
               "range at 7:58");
    /* seeds: an entitlement no plan has, a segment written twice, a source */
    ASSERT_STR(load_error("policy:\n"
                          "  credits: {t: {}}\n"
                          "  estimates:\n"
                          "    nope: {s: {samples: 1}}\n"
                          "    e: {a.b: {value_mean: 5}, a_b: {value_mean: "
                          "50}, c: {source: foo}}\n"
                          "  plans: {p: {entitlements: {e: {limit: {credit: "
                          "t}}}}}\n",
                          "yaml"),
               "estimates.nope: no plan has an entitlement 'nope' at 4:5\n"
               "estimates.e.a_b: the segment 'a_b' is written twice ('.' and "
               "' ' read as '_') at 5:31\n"
               "estimates.e.c.source: must be local or cloud at 5:66");
}

TEST(unknown_and_unsupported_fields)
{
    ASSERT_STR(limit_error("{credit: seat, incremnt: 1}"),
               "plans.p.entitlements.e.limit: unknown field 'incremnt' (did "
               "you mean 'increment'?) at 7:33");
    ASSERT_STR(limit_error("{credit: seat, override_expires_on: 5}"),
               "plans.p.entitlements.e.limit.override_expires_on: not "
               "supported in a limitr policy at 7:33");
    ASSERT_STR(limit_error("{credit: seat, on_exceed: x}"),
               "plans.p.entitlements.e.limit.on_exceed: expected a Lua "
               "function expression (function(...) ... end) at 7:44");
    ASSERT_STR(load_error("policy:\n  hold_ttl: 1000\n", "yaml"), "");
    ASSERT_STR(load_error("policy:\n  hold_ttl: -1\n", "yaml"),
               "hold_ttl: must not be negative at 2:13");
    ASSERT_STR(limit_error("{credit: seat, mode: sotf}"),
               "plans.p.entitlements.e.limit.mode: unknown mode 'sotf' (did "
               "you mean 'soft'?) at 7:39");
    ASSERT_STR(limit_error("{credit: seat, mode: hard}"), "");
    ASSERT_STR(load_error("policy:\n  customers: {}\n", "yaml"),
               "customers: not supported in a limitr policy at 2:3");
    ASSERT_STR(load_error("polcy:\n  plans: {}\n", "yaml"),
               "(document): unknown top-level key 'polcy' (did you mean "
               "'policy'?) at 1:1");
}

TEST(missing_credit)
{
    ASSERT_STR(limit_error("{value: 3}"),
               "plans.p.entitlements.e.limit: missing required field "
               "'credit' at 7:18");
}

TEST(names)
{
    ASSERT_STR(load_error("policy:\n  credits: {'a.b': {}}\n", "yaml"),
               "credits[\"a.b\"]: invalid credit name 'a.b' (use A-Z a-z 0-9 "
               "_ -) at 2:13");
    ASSERT_STR(load_error("policy:\n  credits: {rune: {}}\n", "yaml"),
               "credits.rune: 'rune' is reserved at 2:13");
}

TEST(default_plans)
{
    ASSERT_STR(load_error("policy:\n  plans:\n    a: {default: true}\n"
                          "    b: {default: true}\n",
                          "yaml"),
               "plans.b.default: more than one default plan (also plans.a) "
               "at 4:18");
}

TEST(number_strings_and_units)
{
    ASSERT_STR(limit_error("{credit: seat, value: '100_000'}"), "");
    ASSERT_STR(limit_error("{credit: seat, value: 5GB}"),
               "plans.p.entitlements.e.limit.value: '5GB' has a unit but "
               "credit 'seat' has no units at 7:40");
    ASSERT_STR(limit_error("{credit: seat, value: 5Mb}"),
               "plans.p.entitlements.e.limit.value: unknown unit 'Mb' (did "
               "you mean 'MB'?) at 7:40");
}

TEST(every_error_is_reported_in_position_order)
{
    ASSERT_STR(load_error("policy:\n"
                          "  plans:\n"
                          "    p:\n"
                          "      entitlements:\n"
                          "        a: {limit: {credit: x, increment: -1}}\n"
                          "        b: {limit: {credit: y}}\n"
                          "  credits: {seat: {labl: S}}\n",
                          "yaml"),
               "plans.p.entitlements.a.limit.credit: unknown credit 'x' at "
               "5:29\n"
               "plans.p.entitlements.a.limit.increment: must be greater than "
               "0, got -1 at 5:43\n"
               "plans.p.entitlements.b.limit.credit: unknown credit 'y' at "
               "6:29\n"
               "credits.seat: unknown field 'labl' (did you mean 'label'?) at "
               "7:20");
}

TEST(at_most_fifty_lines)
{
    char text[8192];
    size_t n = 0;
    int i;
    const char *msg;
    n += (size_t)snprintf(text + n, sizeof text - n, "policy:\n  credits:\n");
    for (i = 0; i < 60; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "    c%d: {bad: 1}\n",
                              i);
    msg = load_error(text, "yaml");
    ASSERT_CONTAINS(msg, "credits.c49: unknown field 'bad'");
    ASSERT(strstr(msg, "credits.c50:") == NULL);
    ASSERT_CONTAINS(msg, "\n... and 10 more errors");
}

TEST(document_level_errors)
{
    ASSERT_STR(load_error("", "yaml"),
               "(document): expected a mapping with the single key 'policy'");
    ASSERT_STR(load_error("[1, 2]", "yaml"),
               "(document): expected a mapping with the single key 'policy' "
               "at 1:1");
    ASSERT_CONTAINS(load_error("policy: {a: 1", "yaml"),
                    "(document): YAML syntax error:");
    ASSERT_CONTAINS(load_error("{\"policy\": }", "json"),
                    "(document): JSON syntax error:");
    ASSERT_STR(
        load_error("policy:\n  credits: &a {x: {}}\n  plans: *a\n", "yaml"),
        "credits: YAML anchors and aliases are not allowed at 2:12");
    ASSERT_STR(load_error("policy:\n  plans: {}\n  plans: {}\n", "yaml"),
               "policy: duplicate key 'plans' at 3:3");
    ASSERT_STR(load_error("x", "toml"),
               "unknown format 'toml' (use \"yaml\" or \"json\")");
}

TEST(load_from_file)
{
    limitr_engine *e = NULL;
    ASSERT_EQ(limitr_load("examples/seats.yaml", NULL, &e), LIMITR_OK);
    limitr_free(e);
    e = NULL;
    ASSERT_EQ(limitr_load("no/such/file.yaml", NULL, &e), LIMITR_NOT_FOUND);
    ASSERT_CONTAINS(limitr_last_error(e), "cannot open 'no/such/file.yaml'");
    limitr_free(e);
}

int main(void)
{
    RUN(seats_policy_loads);
    RUN(unknown_credit_names_path_position_and_suggestion);
    RUN(json_policy_and_its_errors);
    RUN(wrong_types);
    RUN(ranges);
    RUN(unknown_and_unsupported_fields);
    RUN(missing_credit);
    RUN(names);
    RUN(default_plans);
    RUN(number_strings_and_units);
    RUN(every_error_is_reported_in_position_order);
    RUN(at_most_fifty_lines);
    RUN(fields_that_would_be_ignored_or_misread);
    RUN(document_level_errors);
    RUN(load_from_file);
    return HARNESS_EXIT();
}
