/* items.c: limitr_item lists (limitr.h) to and from cJSON, for the hosts
 * that take JSON: payloads for C subscribers, snippets' arguments for C host
 * functions, and their results back. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine.h"

cJSON *limitr__items_cjson(limitr_engine *e, const limitr_item *items,
                           size_t *i)
{
    const limitr_item *it = &items[(*i)++];
    const cJSON *snap;
    cJSON *obj;
    size_t k;
    switch (it->kind) {
    case LIMITR_ITEM_NUMBER:
        return cJSON_CreateNumber(it->number);
    case LIMITR_ITEM_BOOLEAN:
        return cJSON_CreateBool(it->number != 0);
    case LIMITR_ITEM_NULL:
        return cJSON_CreateNull();
    case LIMITR_ITEM_STRING:
        return cJSON_CreateString(it->text);
    case LIMITR_ITEM_JSON:
        return cJSON_Parse(it->text);
    case LIMITR_ITEM_SNAPSHOT: /* the frame keeps it: referenced */
        snap = limitr__frame_snapshot(e, it->snapshot);
        return snap != NULL ? cJSON_CreateObjectReference(snap->child) : NULL;
    case LIMITR_ITEM_TABLE:
    case LIMITR_ITEM_ARRAY:
        break;
    }
    obj = it->kind == LIMITR_ITEM_ARRAY ? cJSON_CreateArray()
                                        : cJSON_CreateObject();
    for (k = 0; k < it->size; k++) {
        const char *key = items[*i].key;
        cJSON *v = limitr__items_cjson(e, items, i);
        if (obj == NULL || v == NULL)
            cJSON_Delete(v);
        else if (it->kind == LIMITR_ITEM_ARRAY)
            cJSON_AddItemToArray(obj, v);
        else
            cJSON_AddItemToObject(obj, key, v);
    }
    return obj;
}

/* Appends json (named key) to *list. 0, or -1: out of memory. */
static int append(item_list *list, const char *key, const cJSON *json)
{
    limitr_item *it;
    const cJSON *c;
    size_t at;
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        limitr_item *grown = realloc(list->items, cap * sizeof *grown);
        if (grown == NULL) return -1;
        list->items = grown;
        list->cap = cap;
    }
    at = list->n++;
    it = &list->items[at];
    memset(it, 0, sizeof *it);
    it->key = key;
    if (cJSON_IsNumber(json)) {
        it->kind = LIMITR_ITEM_NUMBER;
        it->number = json->valuedouble;
    } else if (cJSON_IsBool(json)) {
        it->kind = LIMITR_ITEM_BOOLEAN;
        it->number = cJSON_IsTrue(json);
    } else if (cJSON_IsString(json)) {
        it->kind = LIMITR_ITEM_STRING;
        it->text = json->valuestring;
    } else if (cJSON_IsArray(json) || cJSON_IsObject(json)) {
        int array = cJSON_IsArray(json);
        it->kind = array ? LIMITR_ITEM_ARRAY : LIMITR_ITEM_TABLE;
        cJSON_ArrayForEach(c, json)
        {
            if (append(list, array ? NULL : c->string, c) != 0) return -1;
            list->items[at].size++; /* `it` may have moved */
        }
    } else {
        it->kind = LIMITR_ITEM_NULL;
    }
    return 0;
}

int limitr__items_of_json(const cJSON *json, item_list *list)
{
    list->n = 0;
    return append(list, NULL, json);
}

/* Checks the value at items[*i] (depth levels down): NULL, or what is
 * wrong. */
static const char *check_value(const limitr_item *items, size_t n, size_t *i,
                               int depth)
{
    const limitr_item *it;
    size_t k;
    if (*i >= n) return "a table or list has more entries than items follow";
    if (depth > LIMITR_MAX_ITEM_DEPTH) return "nested more than 32 deep";
    it = &items[(*i)++];
    switch (it->kind) {
    case LIMITR_ITEM_NUMBER:
    case LIMITR_ITEM_BOOLEAN:
    case LIMITR_ITEM_NULL:
        return NULL;
    case LIMITR_ITEM_STRING:
        return it->text != NULL ? NULL : "a string item without text";
    case LIMITR_ITEM_TABLE:
    case LIMITR_ITEM_ARRAY:
        for (k = 0; k < it->size; k++) {
            const char *why;
            if (it->kind == LIMITR_ITEM_TABLE && *i < n &&
                items[*i].key == NULL)
                return "a table entry without a key";
            if ((why = check_value(items, n, i, depth + 1)) != NULL) return why;
        }
        return NULL;
    case LIMITR_ITEM_JSON:
    case LIMITR_ITEM_SNAPSHOT:
        break;
    }
    return "a result holds only numbers, strings, booleans, nil, tables and "
           "lists";
}

const char *limitr__items_check(const limitr_item *items, size_t n)
{
    size_t i = 0;
    const char *why = check_value(items, n, &i, 0);
    if (why == NULL && i != n) why = "items left over after the value";
    return why;
}
