/* graph.c: the customer graph (docs/engine.md sections 2.1 and 2.2): a
 * customer's resolved plan through its refs, and the meter owner of a
 * scoped entitlement. Both are cached per process (cache.c) until the
 * state's epoch moves, so allow() walks no refs in steady state. */
#include <string.h>

#include "engine.h"

#ifndef LIMITR_DEFAULT_MAX_REF_DEPTH
#define LIMITR_DEFAULT_MAX_REF_DEPTH                                           \
    64 /* levels of refs a plan lookup follows */
#endif
#ifndef LIMITR_DEFAULT_MAX_PLAN_VISITS
#define LIMITR_DEFAULT_MAX_PLAN_VISITS 1024 /* customers a plan lookup sees */
#endif
#ifndef LIMITR_DEFAULT_MAX_SCOPE_VISITS
#define LIMITR_DEFAULT_MAX_SCOPE_VISITS                                        \
    256 /* customers a scope search sees                                       \
         */
#endif

/* A plan lookup's walk: each customer once (ref cycles end), at most
 * MAX_PLAN_VISITS of them, at most MAX_REF_DEPTH levels deep. */
typedef struct plan_walk {
    const customer *visited[LIMITR_DEFAULT_MAX_PLAN_VISITS];
    size_t n;
} plan_walk;

static int visited(const plan_walk *w, const customer *c)
{
    size_t i;
    for (i = 0; i < w->n; i++)
        if (w->visited[i] == c) return 1;
    return 0;
}

/* Own plan, then refs depth first (own plan before refs), no default. */
static int plan_through_refs(const limitr_engine *e, const customer *c,
                             plan_walk *w, int depth)
{
    size_t i;
    int plan;
    if (visited(w, c) || w->n == LIMITR_DEFAULT_MAX_PLAN_VISITS) return -1;
    w->visited[w->n++] = c;
    if (c->own_plan[0] != '\0') {
        plan = limitr__policy_find_plan(e->policy, c->own_plan);
        if (plan >= 0) return plan;
    }
    if (depth == LIMITR_DEFAULT_MAX_REF_DEPTH) return -1;
    for (i = 0; i < c->refs.n; i++) {
        const customer *r = limitr__customer_lookup(e, c->refs.items[i]);
        if (r == NULL) continue; /* refs to missing customers are skipped */
        plan = plan_through_refs(e, r, w, depth + 1);
        if (plan >= 0) return plan;
    }
    return -1;
}

static int resolve_plan(const limitr_engine *e, const customer *c)
{
    plan_walk w;
    int plan;
    w.n = 0;
    plan = plan_through_refs(e, c, &w, 0);
    return plan >= 0 ? plan : e->policy->default_plan;
}

int limitr__plan_of_new(const limitr_engine *e, const char *const *refs,
                        size_t n)
{
    plan_walk w;
    size_t i;
    int plan;
    w.visited[0] = NULL; /* the new customer's own visit */
    w.n = 1;
    for (i = 0; i < n; i++) {
        const customer *r = limitr__customer_lookup(e, refs[i]);
        if (r != NULL && (plan = plan_through_refs(e, r, &w, 1)) >= 0)
            return plan;
    }
    return -1;
}

int limitr__resolve_plan(limitr_engine *e, const customer *c)
{
    customer_cache *cc = limitr__cache_of(e, c);
    int plan = resolve_plan(e, c);
    if (cc != NULL) cc->plan = plan;
    return plan;
}

/* Breadth first through refs, list order, each customer once, the caller
 * excluded: the first customer whose type is `scope`, among the first
 * LIMITR_DEFAULT_MAX_SCOPE_VISITS visited, the caller counted (255 others:
 * docs/engine.md 2.2). */
static customer *search_scope(const limitr_engine *e, customer *caller,
                              const char *scope)
{
    customer *queue[LIMITR_DEFAULT_MAX_SCOPE_VISITS];
    size_t head = 0, tail = 0, i, j;
    queue[tail++] = caller;
    while (head < tail) {
        customer *c = queue[head++];
        if (c != caller && strcmp(c->type, scope) == 0) return c;
        /* a full queue still has its customers to look at */
        for (i = 0; tail < LIMITR_DEFAULT_MAX_SCOPE_VISITS && i < c->refs.n;
             i++) {
            customer *r = limitr__customer_lookup(e, c->refs.items[i]);
            int seen = 0;
            if (r == NULL) continue;
            for (j = 0; j < tail && !seen; j++)
                seen = queue[j] == r;
            if (seen) continue;
            queue[tail++] = r;
        }
    }
    return NULL;
}

customer *limitr__scope_owner(limitr_engine *e, customer *caller,
                              const char *scope)
{
    customer_cache *cc;
    if (scope == NULL || strcmp(scope, caller->type) == 0) return caller;
    cc = limitr__cache_of(e, caller);
    if (cc == NULL) return search_scope(e, caller, scope);
    if (cc->scope_type == NULL ||
        (cc->scope_type != scope && strcmp(cc->scope_type, scope) != 0)) {
        cc->scope_owner = search_scope(e, caller, scope);
        cc->scope_type = scope;
    }
    return cc->scope_owner;
}
