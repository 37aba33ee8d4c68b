/* credit_api.c: credits changed at run time (docs/engine.md section 11).
 * set_credit edits the policy's canonical text (the credit's entry under
 * `credits` replaced or added last) and reloads it: the credit is checked
 * as in a document, the state is kept, and usage already recorded keeps the
 * prices it was recorded at (meters store amounts, overhead and money per
 * period, never a price). credit reads the entry back. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "canonical.h"
#include "doc.h"
#include "engine.h"

/* The running policy as a document tree; NULL when memory ran out (the
   canonical text always parses). */
static doc_node *policy_doc(const limitr_engine *e)
{
    char *err = NULL;
    doc_node *root =
        limitr__doc_parse(e->policy->text, e->policy->text_len, "json", &err);
    free(err);
    return root;
}

static doc_node *credits_of(doc_node *root)
{
    const doc_pair *policy = limitr__doc_get(root, "policy");
    const doc_pair *credits =
        policy != NULL ? limitr__doc_get(policy->value, "credits") : NULL;
    return credits != NULL ? credits->value : NULL;
}

/* Sets map[key] = value (taking it), replacing in place or appending
   (limitr__doc_map_add); -1 when memory ran out (value then still the
   caller's). */
static int map_put(doc_node *map, const char *key, doc_node *value)
{
    limitr__doc_keyset set = {NULL, 0, 0};
    size_t i, len = strlen(key);
    char *copy;
    int added;
    for (i = 0; i < map->count; i++)
        if (map->pairs[i].key_len == len &&
            memcmp(map->pairs[i].key, key, len) == 0) {
            limitr__doc_free(map->pairs[i].value);
            map->pairs[i].value = value;
            return 0;
        }
    if ((copy = malloc(len + 1)) == NULL) return -1;
    memcpy(copy, key, len + 1);
    added = limitr__doc_map_add(map, &set, copy, len, 0, 0);
    limitr__doc_keyset_free(&set);
    if (added != 0) { /* not taken: never 1, the key was looked for */
        free(copy);
        return -1;
    }
    map->pairs[map->count - 1].value = value;
    return 0;
}

/* The problems name their path; their " at L:C" would point into the
   canonical text, not anything the caller wrote: dropped. */
static void drop_positions(char *message)
{
    char *in = message, *out = message;
    if (message == NULL) return;
    while (*in != '\0') {
        if (strncmp(in, " at ", 4) == 0) {
            const char *p = in + 4;
            while (*p >= '0' && *p <= '9')
                p++;
            if (p > in + 4 && *p == ':') {
                const char *q = ++p;
                while (*p >= '0' && *p <= '9')
                    p++;
                if (p > q && (*p == '\n' || *p == '\0')) {
                    in = (char *)p;
                    continue;
                }
            }
        }
        *out++ = *in++;
    }
    *out = '\0';
}

static int set_credit_call(limitr_engine *e, const char *name,
                           const char *credit_json)
{
    doc_node *root = NULL, *credit, *credits;
    char *err = NULL, *text;
    size_t len;
    int status;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "set_credit");
    LIMITR_LOG_OP(e, "set_credit", name, credit_json);
    if (name == NULL || name[0] == '\0' || credit_json == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "set_credit: a name and a credit are required");
    credit = limitr__doc_parse(credit_json, strlen(credit_json), "json", &err);
    if (credit == NULL) {
        status = err == NULL ? limitr__nomem(e)
                             : limitr__fail(e, LIMITR_INVALID, NULL,
                                            "set_credit: %s", err);
        free(err);
        return status;
    }
    if (credit->type != DOC_MAP) {
        limitr__doc_free(credit);
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "set_credit: the credit must be an object");
    }
    if ((root = policy_doc(e)) == NULL) {
        limitr__doc_free(credit);
        return limitr__nomem(e);
    }
    if ((credits = credits_of(root)) == NULL) {
        const doc_pair *policy = limitr__doc_get(root, "policy");
        if ((credits = limitr__doc_new(DOC_MAP, 0, 0)) == NULL ||
            map_put(policy->value, "credits", credits) != 0) {
            limitr__doc_free(credits);
            limitr__doc_free(credit);
            limitr__doc_free(root);
            return limitr__nomem(e);
        }
    }
    if (map_put(credits, name, credit) != 0) {
        limitr__doc_free(credit);
        limitr__doc_free(root);
        return limitr__nomem(e);
    }
    text = limitr__doc_canonical(root, &len);
    limitr__doc_free(root);
    if (text == NULL) return limitr__nomem(e);
    status = limitr__reload(e, text, len, "json", NULL, 0);
    free(text);
    if (status == LIMITR_INVALID) drop_positions(e->message);
    return status;
}

int limitr_set_credit(limitr_engine *e, const char *name,
                      const char *credit_json)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, set_credit_call(e, name, credit_json));
}

int limitr_credit(limitr_engine *e, const char *name, const char **credit_json)
{
    doc_node *root;
    const doc_pair *credit;
    char *text;
    size_t len;
    cJSON *json;
    LIMITR_ENTER(e);
    if (name == NULL || credit_json == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "credit: a name and out are required");
    if ((root = policy_doc(e)) == NULL) return limitr__nomem(e);
    credit = limitr__doc_get(credits_of(root), name);
    if (credit == NULL) {
        limitr__doc_free(root);
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_credit");
    }
    text = limitr__doc_json(credit->value, &len);
    limitr__doc_free(root);
    json = text != NULL ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    return limitr__set_result(e, json, credit_json);
}
