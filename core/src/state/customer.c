/* customer.c: customer records and their string lists (refs, alt IDs), in
 * the state's memory. The calls that use them (engine/customer_api.c)
 * allocate everything first, so running out of memory changes nothing. */
#include <string.h>

#include "state.h"

/* ---- Slots ---- */

/* A slot for a new record: a released one, else the next. */
static int slot_take(state *st, uint32_t *out)
{
    if (st->d->n_free_slots > 0) {
        *out = st->d->free_slots[--st->d->n_free_slots];
        return 0;
    }
    if (st->d->next_slot == UINT32_MAX) return -1;
    *out = st->d->next_slot++;
    return 0;
}

/* Gives a slot back. The list has room for every slot ever handed out, so
 * this cannot fail (it grows in customer_new, before anything changes).
 * Journaled: a call that took a free slot and gives another back writes
 * over a live entry of the list, which an undo must bring back. */
static void slot_release(state *st, uint32_t slot)
{
    uint32_t *entry = &st->d->free_slots[st->d->n_free_slots++];
    limitr__st_save(st, entry, sizeof *entry);
    *entry = slot;
}

static int slots_reserve(state *st)
{
    size_t need = (size_t)st->d->next_slot + 1, cap;
    uint32_t *grown;
    if (need <= st->d->cap_free_slots) return 0;
    cap = st->d->cap_free_slots ? st->d->cap_free_slots * 2 : 64;
    while (cap < need)
        cap *= 2;
    grown = limitr__st_alloc(st, cap * sizeof *grown);
    if (grown == NULL) return -1;
    if (st->d->n_free_slots)
        memcpy(grown, st->d->free_slots, st->d->n_free_slots * sizeof *grown);
    limitr__st_free(st, st->d->free_slots,
                    st->d->cap_free_slots * sizeof *st->d->free_slots);
    st->d->free_slots = grown;
    st->d->cap_free_slots = cap;
    return 0;
}

/* ---- Records ---- */

customer *limitr__customer_new(state *st, const char *id, size_t len,
                               uint64_t hash, int64_t created)
{
    customer *c;
    if (slots_reserve(st) != 0) return NULL;
    c = limitr__st_alloc(st, sizeof *c);
    if (c == NULL) return NULL;
    memset(c, 0, sizeof *c);
    c->id = limitr__st_strdup(st, id, len);
    c->own_plan = limitr__st_strdup(st, "", 0);
    c->type = limitr__st_strdup(st, "user", 4);
    c->label = limitr__st_strdup(st, "User", 4);
    c->id_len = len;
    c->hash = hash;
    c->created = created;
    if (c->id == NULL || c->own_plan == NULL || c->type == NULL ||
        c->label == NULL || slot_take(st, &c->slot) != 0) {
        limitr__st_free(st, c->id, c->id ? len + 1 : 0);
        c->id = NULL;
        limitr__st_strfree(st, c->own_plan);
        limitr__st_strfree(st, c->type);
        limitr__st_strfree(st, c->label);
        limitr__st_free(st, c, sizeof *c);
        return NULL;
    }
    return c;
}

void limitr__customer_destroy(state *st, customer *c)
{
    limitr__st_free(st, c->id, c->id_len + 1);
    limitr__st_strfree(st, c->own_plan);
    limitr__st_strfree(st, c->type);
    limitr__st_strfree(st, c->label);
    limitr__st_strfree(st, c->metadata_json);
    limitr__strlist_free(st, &c->refs);
    limitr__strlist_free(st, &c->alt_ids);
    limitr__st_free(st, c->meters, c->cap_meters * sizeof *c->meters);
    limitr__st_free(st, c->overrides, c->cap_overrides * sizeof *c->overrides);
    limitr__estimate_list_free(st, &c->estimates);
    while (c->n_holds > 0)
        limitr__hold_remove_at(st, c, c->n_holds - 1);
    limitr__st_free(st, c->holds, c->cap_holds * sizeof *c->holds);
    while (c->n_caps > 0)
        limitr__cap_remove_at(st, c, c->n_caps - 1);
    limitr__st_free(st, c->caps, c->cap_caps * sizeof *c->caps);
    while (c->n_grants > 0)
        limitr__grant_remove_at(st, c, c->n_grants - 1);
    limitr__st_free(st, c->grants, c->cap_grants * sizeof *c->grants);
    limitr__st_free(st, c->included, c->cap_included * sizeof *c->included);
    slot_release(st, c->slot);
    limitr__st_free(st, c, sizeof *c);
}

/* ---- Journaling (a shared region) ---- */

static void save_strlist(state *st, const strlist *l)
{
    limitr__st_save(st, l->items, l->n * sizeof *l->items);
}

static void save_held(state *st, const held_list *l)
{
    limitr__st_save(st, l->items, l->n * sizeof *l->items);
}

void limitr__customer_save(state *st, const customer *c)
{
    size_t i;
    limitr__st_save(st, c, sizeof *c);
    save_strlist(st, &c->refs);
    save_strlist(st, &c->alt_ids);
    limitr__st_save(st, c->meters, c->n_meters * sizeof *c->meters);
    limitr__st_save(st, c->overrides, c->n_overrides * sizeof *c->overrides);
    limitr__st_save(st, c->estimates.items,
                    c->estimates.n * sizeof *c->estimates.items);
    limitr__st_save(st, c->included, c->n_included * sizeof *c->included);
    limitr__st_save(st, c->grants, c->n_grants * sizeof *c->grants);
    for (i = 0; i < c->n_grants; i++)
        save_held(st, &c->grants[i].held);
    limitr__st_save(st, c->holds, c->n_holds * sizeof *c->holds);
    for (i = 0; i < c->n_holds; i++)
        limitr__st_save(st, c->holds[i].parts,
                        c->holds[i].n_parts * sizeof *c->holds[i].parts);
    limitr__st_save(st, c->caps, c->n_caps * sizeof *c->caps);
    for (i = 0; i < c->n_caps; i++) {
        save_held(st, &c->caps[i].held);
        save_strlist(st, &c->caps[i].shared_with);
        save_strlist(st, &c->caps[i].scope);
    }
}

/* ---- String lists ---- */

void limitr__strlist_free(state *st, strlist *l)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        limitr__st_strfree(st, l->items[i]);
    limitr__st_free(st, l->items, l->cap * sizeof *l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

int limitr__strlist_grow(state *st, const strlist *l, size_t extra,
                         strlist *out)
{
    out->n = l->n;
    out->cap = l->n + extra;
    out->items = NULL;
    if (out->cap == 0) return 0;
    out->items = limitr__st_alloc(st, out->cap * sizeof *out->items);
    if (out->items == NULL) return -1;
    if (l->n) memcpy(out->items, l->items, l->n * sizeof *out->items);
    return 0;
}

int limitr__strlist_append(state *st, strlist *grown, const char *s)
{
    char *copy = limitr__st_strdup(st, s, strlen(s));
    if (copy == NULL) return -1;
    grown->items[grown->n++] = copy;
    return 0;
}

void limitr__strlist_commit(state *st, strlist *l, strlist *grown)
{
    limitr__st_free(st, l->items, l->cap * sizeof *l->items);
    *l = *grown;
}

void limitr__strlist_abandon(state *st, const strlist *l, strlist *grown)
{
    size_t i;
    for (i = l->n; i < grown->n; i++)
        limitr__st_strfree(st, grown->items[i]);
    limitr__st_free(st, grown->items, grown->cap * sizeof *grown->items);
}

int limitr__strlist_index(const strlist *l, const char *s)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0) return (int)i;
    return -1;
}

void limitr__strlist_remove_at(state *st, strlist *l, size_t i)
{
    limitr__st_strfree(st, l->items[i]);
    memmove(&l->items[i], &l->items[i + 1], (l->n - i - 1) * sizeof *l->items);
    l->n--; /* the array keeps its capacity */
}
