/* The seats example in C, using only limitr.h: two plans, a seat limit, and
 * a host function the engine calls whenever a customer hits a limit.
 * The payload arrives as JSON; a real host would use its JSON library. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limitr.h"

static const char policy_text[] =
    "policy:\n"
    "  credits:\n"
    "    seat:\n"
    "      description: 'A single seat credit that can be tracked per "
    "customer.'\n"
    "  plans:\n"
    "    free:\n"
    "      entitlements:\n"
    "        seats:\n"
    "          limit: { credit: seat, value: 1, increment: 1 }\n"
    "    paid:\n"
    "      entitlements:\n"
    "        seats:\n"
    "          limit: { credit: seat, value: 3, increment: 1 }\n";

/* The number after "key": in json, or -1 (enough for this example). */
static double json_number(const char *json, const char *key)
{
    char pattern[64];
    const char *at;
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    at = strstr(json, pattern);
    return at ? strtod(at + strlen(pattern), NULL) : -1;
}

static const char *on_meter_limit(const char *args_json,
                                  const char **result_json, void *userdata)
{
    const char *meters = strstr(args_json, "\"meters\":");
    (void)result_json;
    (void)userdata;
    if (strstr(args_json, "\"plan\":\"free\"") != NULL &&
        strstr(args_json, "\"entitlement\":\"seats\"") != NULL &&
        meters != NULL)
        printf("FREE PLAN SEAT LIMIT HIT, current:  %g  requested:  %g\n",
               json_number(meters, "value"),
               json_number(args_json, "invalid_value"));
    return NULL;
}

int main(void)
{
    limitr_engine *policy = NULL;
    if (limitr_new(policy_text, strlen(policy_text), "yaml", NULL, &policy) !=
        LIMITR_OK) {
        fprintf(stderr, "policy: %s\n", limitr_last_error(policy));
        limitr_free(policy);
        return 1;
    }
    limitr_create_customer(policy, "cus_free_customer", "free", NULL, NULL);
    limitr_create_customer(policy, "cus_paid_customer", "paid", NULL, NULL);
    limitr_increment(policy, "cus_free_customer", "seats", NULL);
    limitr_increment(policy, "cus_paid_customer", "seats", NULL);
    limitr_lib(policy, "App", "meter_limit", on_meter_limit, NULL);

    /* denied, and emits meter-limit (App.meter_limit is called too) */
    if (limitr_increment(policy, "cus_free_customer", "seats", NULL) ==
            LIMITR_OK ||
        limitr_allow(policy, "cus_free_customer", "seats", 2, NULL) ==
            LIMITR_OK ||
        limitr_increment(policy, "cus_paid_customer", "seats", NULL) !=
            LIMITR_OK) {
        fprintf(stderr, "unexpected decision\n");
        limitr_free(policy);
        return 1;
    }
    limitr_free(policy);
    return 0;
}
