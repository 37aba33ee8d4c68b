/* cap.c: a customer's spend caps (docs/engine.md 16), in the state's
 * memory. */
#include <string.h>

#include "state.h"

spend_cap *limitr__cap_find(const customer *c, const char *id)
{
    size_t i, len = strlen(id);
    for (i = 0; i < c->n_caps; i++)
        if (c->caps[i].id_len == len && memcmp(c->caps[i].id, id, len) == 0)
            return &c->caps[i];
    return NULL;
}

/* A copy of list l into *out in the state; -1 with nothing kept. */
static int copy_list(state *st, const strlist *l, strlist *out)
{
    const strlist none = {NULL, 0, 0};
    size_t i;
    if (limitr__strlist_grow(st, &none, l->n, out) != 0) return -1;
    for (i = 0; i < l->n; i++)
        if (limitr__strlist_append(st, out, l->items[i]) != 0) {
            limitr__strlist_free(st, out);
            return -1;
        }
    return 0;
}

int limitr__cap_add(state *st, customer *c, const spend_cap *k)
{
    spend_cap stored = *k;
    if (limitr__st_grow(st, (void **)&c->caps, c->n_caps, &c->cap_caps,
                        sizeof *c->caps, 1) != 0)
        return -1;
    stored.id = limitr__st_strdup(st, k->id, k->id_len);
    if (stored.id == NULL) return -1;
    if (copy_list(st, &k->shared_with, &stored.shared_with) != 0) {
        limitr__st_free(st, stored.id, k->id_len + 1);
        return -1;
    }
    if (copy_list(st, &k->scope, &stored.scope) != 0) {
        limitr__strlist_free(st, &stored.shared_with);
        limitr__st_free(st, stored.id, k->id_len + 1);
        return -1;
    }
    c->caps[c->n_caps++] = stored;
    st->d->n_caps++;
    limitr__state_changed(st); /* a call's caps moved */
    if (stored.shared) st->d->n_shared_caps++;
    return 0;
}

void limitr__cap_remove_at(state *st, customer *c, size_t i)
{
    spend_cap *k = &c->caps[i];
    if (k->shared) st->d->n_shared_caps--;
    limitr__held_free(st, &k->held);
    limitr__st_free(st, k->id, k->id_len + 1);
    limitr__strlist_free(st, &k->shared_with);
    limitr__strlist_free(st, &k->scope);
    memmove(&c->caps[i], &c->caps[i + 1], (c->n_caps - i - 1) * sizeof *k);
    c->n_caps--;
    st->d->n_caps--;
    limitr__state_changed(st);
}
