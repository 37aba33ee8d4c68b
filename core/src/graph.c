/* graph.c: the customer graph (engine.md sections 2.1 and 2.2): a
 * customer's resolved plan through its refs, and the meter owner of a
 * scoped entitlement. Both are cached on the customer until the graph
 * changes (engine->graph_epoch), so allow() walks no refs in steady state. */
#include <string.h>

#include "internal.h"

#ifndef LIMITR_DEFAULT_MAX_REF_DEPTH
#define LIMITR_DEFAULT_MAX_REF_DEPTH 64 /* plan lookup through refs */
#endif
#ifndef LIMITR_DEFAULT_MAX_SCOPE_VISITS
#define LIMITR_DEFAULT_MAX_SCOPE_VISITS 256 /* customers a scope search sees */
#endif

void limitr__graph_changed(limitr_engine *e)
{
    e->graph_epoch++;
}

static customer *ref_target(const limitr_engine *e, const char *ref)
{
    return limitr__customer_lookup(e, ref);
}

/* Own plan, then refs depth first (own plan before refs), no default.
 * visited holds the customers on this walk (each is visited once). */
static int plan_through_refs(const limitr_engine *e, const customer *c,
                             const customer **visited, size_t *n_visited,
                             int depth)
{
    size_t i;
    int plan;
    for (i = 0; i < *n_visited; i++)
        if (visited[i] == c) return -1;
    if (*n_visited == LIMITR_DEFAULT_MAX_REF_DEPTH) return -1;
    visited[(*n_visited)++] = c;
    if (c->own_plan[0] != '\0') {
        plan = limitr__policy_find_plan(e->policy, c->own_plan);
        if (plan >= 0) return plan;
    }
    if (depth >= LIMITR_DEFAULT_MAX_REF_DEPTH) return -1;
    for (i = 0; i < c->refs.n; i++) {
        const customer *r = ref_target(e, c->refs.items[i]);
        if (r == NULL) continue; /* refs to missing customers are skipped */
        plan = plan_through_refs(e, r, visited, n_visited, depth + 1);
        if (plan >= 0) return plan;
    }
    return -1;
}

static void refresh(const limitr_engine *e, customer *c)
{
    const customer *visited[LIMITR_DEFAULT_MAX_REF_DEPTH];
    size_t n = 0;
    int plan = plan_through_refs(e, c, visited, &n, 0);
    c->plan = plan >= 0 ? plan : e->policy->default_plan;
    c->scope_type = NULL;
    c->scope_owner = NULL;
    c->graph_epoch = e->graph_epoch;
}

int limitr__resolve_plan(const limitr_engine *e, customer *c)
{
    if (c->graph_epoch != e->graph_epoch) refresh(e, c);
    return c->plan;
}

/* Breadth first through refs, list order, each customer once, the caller
 * excluded: the first customer whose type is `scope`. */
static customer *search_scope(const limitr_engine *e, customer *caller,
                              const char *scope)
{
    customer *queue[LIMITR_DEFAULT_MAX_SCOPE_VISITS];
    size_t head = 0, tail = 0, i, j;
    queue[tail++] = caller;
    while (head < tail) {
        customer *c = queue[head++];
        if (c != caller && strcmp(c->type, scope) == 0) return c;
        for (i = 0; i < c->refs.n; i++) {
            customer *r = ref_target(e, c->refs.items[i]);
            int seen = 0;
            if (r == NULL) continue;
            for (j = 0; j < tail && !seen; j++)
                seen = queue[j] == r;
            if (seen) continue;
            if (tail == LIMITR_DEFAULT_MAX_SCOPE_VISITS) return NULL;
            queue[tail++] = r;
        }
    }
    return NULL;
}

customer *limitr__find_scope_owner(const limitr_engine *e, customer *caller,
                                   const char *scope)
{
    if (scope == NULL || strcmp(scope, caller->type) == 0) return caller;
    if (caller->graph_epoch != e->graph_epoch) refresh(e, caller);
    if (caller->scope_type == NULL ||
        (caller->scope_type != scope &&
         strcmp(caller->scope_type, scope) != 0)) {
        caller->scope_owner = search_scope(e, caller, scope);
        caller->scope_type = scope;
    }
    return caller->scope_owner;
}
