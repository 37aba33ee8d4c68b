/* limit.c: compiles a limit mapping (docs/policy.md section 6) into an
 * lp_limit, for a plan's entitlement or a customer's override, and checks the
 * rules that tie its fields together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "schedule.h"

/* A policy limit takes every field but the last; an override takes them
 * all, `expires` included. */
static const field limit_fields[] = {
    {"credit", FIELD_OK},
    {"value", FIELD_OK},
    {"increment", FIELD_OK},
    {"mode", FIELD_OK},
    {"minimum", FIELD_OK},
    {"hard_trailing", FIELD_OK},
    {"grants_apply", FIELD_OK},
    {"resets", FIELD_OK},
    {"reset_inc", FIELD_OK},
    {"reset_sch", FIELD_OK},
    {"governor_enabled", FIELD_OK},
    {"governor_capacity", FIELD_OK},
    {"governor_refill_rate", FIELD_OK},
    {"ewma_alpha", FIELD_OK},
    {"on_exceed", FIELD_OK},
    {"override_expires_on", FIELD_UPSTREAM},
    {"expires", FIELD_OK}, /* overrides only: keep it last */
};

void limitr__limit_defaults(lp_limit *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->credit = -1;
    lim->rule.increment = LNUM_SCALE;
    lim->rule.mode = MODE_HARD;
    lim->rule.grants_apply = 1;
    lim->rule.ewma_alpha = 0.2;
}

#define THIRTY_DAYS_MS 2592000000LL

/* The value of field `key`, its path in *fpath (caller frees), or NULL. */
static const doc_node *field_at(compiler *cc, const doc_node *n,
                                const char *path, const char *key, char **fpath)
{
    const doc_node *v = limitr__get(n, key);
    *fpath = NULL;
    if (v == NULL) return NULL;
    *fpath = limitr__child_path(cc, path, key);
    return *fpath != NULL ? v : NULL;
}

int limitr__read_credit(compiler *cc, const doc_node *v, const char *fpath,
                        int *credit)
{
    const lp_policy *p = cc->p;
    const char *cands[256];
    size_t i, nc = p->n_credits < 256 ? p->n_credits : 256;
    char buf[96];
    int found = -1;
    if (!limitr__expect(cc, v, fpath, DOC_STRING, "string")) return 0;
    for (i = 0; i < p->n_credits; i++)
        if (strcmp(p->credits[i].name, v->text) == 0) found = (int)i;
    if (found < 0) {
        for (i = 0; i < nc; i++)
            cands[i] = p->credits[i].name;
        ERR(cc, fpath, v, "unknown credit '%s'%s", v->text,
            limitr__hint(buf, sizeof buf, v->text, cands, nc));
        *credit = -1;
        return 0;
    }
    *credit = found;
    return 1;
}

static void read_mode(compiler *cc, const doc_node *v, const char *fpath,
                      lp_limit *lim)
{
    const char *const *modes = limitr__mode_names;
    char buf[96];
    int i;
    if (!limitr__expect(cc, v, fpath, DOC_STRING, "string")) return;
    for (i = 0; i < 3; i++) {
        if (strcmp(v->text, modes[i]) == 0) {
            lim->rule.mode = (limit_mode)i;
            return;
        }
    }
    ERR(cc, fpath, v, "unknown mode '%s'%s", v->text,
        limitr__hint(buf, sizeof buf, v->text, modes, 3));
}

/* An amount field with its range rule: min_kind 0 = any, 1 = >= 0, 2 = > 0. */
int limitr__read_ranged(compiler *cc, const doc_node *v, const char *fpath,
                        int credit, int min_kind, lnum *out)
{
    char num[48];
    lnum x;
    if (!limitr__read_amount(cc, v, fpath, credit, &x)) return 0;
    if (min_kind == 1 && x < 0) {
        ERR(cc, fpath, v, "must not be negative, got %s",
            limitr__lnum_format(x, num));
        return 0;
    }
    if (min_kind == 2 && x <= 0) {
        ERR(cc, fpath, v, "must be greater than 0, got %s",
            limitr__lnum_format(x, num));
        return 0;
    }
    *out = x;
    return 1;
}

void limitr__read_resets(compiler *cc, const doc_node *n, const char *path,
                         reset_kind *reset, int64_t *reset_inc,
                         lp_schedule *sch)
{
    const doc_node *inc_node, *sch_node, *resets_node;
    char *fpath;
    int64_t ms;
    int resets = limitr__read_bool(cc, n, path, "resets", *reset != RESET_NONE);
    resets_node = limitr__get(n, "resets");
    inc_node = limitr__get(n, "reset_inc");
    sch_node = limitr__get(n, "reset_sch");
    if (inc_node != NULL && sch_node != NULL) {
        ERR(cc, path, sch_node,
            "reset_inc and reset_sch are mutually exclusive");
    } else if (!resets && (inc_node != NULL || sch_node != NULL)) {
        ERR(cc, path, inc_node ? inc_node : sch_node,
            "%s is set but resets is not true",
            inc_node ? "reset_inc" : "reset_sch");
    } else if (!resets) {
        *reset = RESET_NONE;
    } else if (sch_node != NULL) {
        char err[200];
        fpath = limitr__child_path(cc, path, "reset_sch");
        if (fpath != NULL &&
            limitr__expect(cc, sch_node, fpath, DOC_STRING, "string")) {
            if (limitr__schedule_parse(sch_node->text, sch, err, sizeof err) ==
                0)
                *reset = RESET_SCHEDULE;
            else
                ERR(cc, fpath, sch_node, "%s", err);
        }
        free(fpath);
    } else if (inc_node != NULL) {
        fpath = limitr__child_path(cc, path, "reset_inc");
        if (fpath != NULL && limitr__read_duration(cc, inc_node, fpath, &ms)) {
            if (ms <= 0) {
                ERR(cc, fpath, inc_node, "must be greater than 0, got %lld",
                    (long long)ms);
            } else {
                *reset = RESET_INTERVAL;
                *reset_inc = ms;
            }
        }
        free(fpath);
    } else if (*reset == RESET_NONE || resets_node != NULL) {
        /* resets: true alone means 30 days (as upstream); in an override
           that leaves an inherited period as it is. */
        if (*reset == RESET_NONE) {
            *reset = RESET_INTERVAL;
            *reset_inc = THIRTY_DAYS_MS;
        }
    }
}

void limitr__limit_compile(compiler *cc, const doc_node *n, const char *path,
                           lp_limit *lim, int is_override, int64_t *expires)
{
    const doc_node *v;
    char *fpath;
    if (!limitr__expect(cc, n, path, DOC_MAP, "mapping")) return;
    limitr__check_fields(cc, n, path, limit_fields,
                         N_FIELDS(limit_fields) - (is_override ? 0 : 1));

    if ((v = field_at(cc, n, path, "credit", &fpath)) != NULL)
        limitr__read_credit(cc, v, fpath, &lim->credit);
    else if (!is_override)
        ERR(cc, path, n, "missing required field 'credit'");
    free(fpath);
    if ((v = field_at(cc, n, path, "mode", &fpath)) != NULL)
        read_mode(cc, v, fpath, lim);
    free(fpath);
    /* Amounts are in the credit's units, so the credit comes first. */
    if ((v = field_at(cc, n, path, "value", &fpath)) != NULL) {
        if (v->lua_tag ||
            (v->type == DOC_STRING && limitr__looks_like_snippet(v->text))) {
            lim->value_ref = limitr__read_snippet(cc, v, fpath);
            lim->rule.value = 0;
        } else if (limitr__read_ranged(cc, v, fpath, lim->credit, 1,
                                       &lim->rule.value)) {
            lim->value_ref = 0;
        }
    }
    free(fpath);
    if ((v = field_at(cc, n, path, "on_exceed", &fpath)) != NULL)
        lim->on_exceed_ref = limitr__read_snippet(cc, v, fpath);
    free(fpath);
    if ((v = field_at(cc, n, path, "increment", &fpath)) != NULL)
        limitr__read_ranged(cc, v, fpath, lim->credit, 2, &lim->rule.increment);
    free(fpath);
    if ((v = field_at(cc, n, path, "minimum", &fpath)) != NULL &&
        limitr__read_ranged(cc, v, fpath, lim->credit, 0, &lim->rule.minimum))
        lim->rule.has_minimum = 1;
    free(fpath);
    lim->rule.hard_trailing = limitr__read_bool(cc, n, path, "hard_trailing",
                                                lim->rule.hard_trailing);
    lim->rule.grants_apply =
        limitr__read_bool(cc, n, path, "grants_apply", lim->rule.grants_apply);

    /* Periods (rule 1). */
    limitr__read_resets(cc, n, path, &lim->rule.reset, &lim->rule.reset_inc,
                        &lim->rule.sch);

    /* Governor (rule 2). */
    lim->rule.governor =
        limitr__read_bool(cc, n, path, "governor_enabled", lim->rule.governor);
    if ((v = field_at(cc, n, path, "governor_capacity", &fpath)) != NULL)
        limitr__read_ranged(cc, v, fpath, lim->credit, 2,
                            &lim->rule.governor_capacity);
    free(fpath);
    if ((v = field_at(cc, n, path, "governor_refill_rate", &fpath)) != NULL) {
        double rate;
        if (limitr__read_double(cc, v, fpath, &rate)) {
            if (!(rate > 0))
                ERR(cc, fpath, v, "must be greater than 0, got %s", v->text);
            else
                lim->rule.governor_refill_rate = rate;
        }
    }
    free(fpath);
    if ((v = field_at(cc, n, path, "ewma_alpha", &fpath)) != NULL) {
        double alpha;
        if (limitr__read_double(cc, v, fpath, &alpha)) {
            if (!(alpha > 0))
                ERR(cc, fpath, v, "must be greater than 0, got %s", v->text);
            else if (alpha > 1)
                ERR(cc, fpath, v, "must be at most 1, got %s", v->text);
            else
                lim->rule.ewma_alpha = alpha;
        }
    }
    free(fpath);
    fpath = NULL;
    if (is_override && expires != NULL &&
        (v = field_at(cc, n, path, "expires", &fpath)) != NULL) {
        lnum x;
        if (v->type == DOC_NUMBER &&
            limitr__lnum_parse(v->text, v->text_len, &x) == 0 &&
            x % LNUM_SCALE == 0)
            *expires = (int64_t)(x / LNUM_SCALE);
        else
            ERR(cc, fpath, v, "expected a time in whole ms since the epoch");
        free(fpath);
    } else {
        free(fpath);
    }

    /* Rules between fields (2 and 3). */
    if (lim->rule.governor) {
        const doc_node *at = limitr__get(n, "governor_enabled");
        if (at == NULL) at = n;
        /* A field that is present but wrong is reported on its own. */
        if (lim->rule.governor_capacity <= 0 &&
            limitr__get(n, "governor_capacity") == NULL)
            ERR(cc, path, at, "governor_enabled requires governor_capacity");
        if (!(lim->rule.governor_refill_rate > 0) &&
            limitr__get(n, "governor_refill_rate") == NULL)
            ERR(cc, path, at, "governor_enabled requires governor_refill_rate");
        if (lim->rule.mode != MODE_HARD)
            ERR(cc, path, at, "governor requires mode 'hard'");
    }
    if (lim->rule.hard_trailing && lim->rule.mode != MODE_HARD) {
        const doc_node *at = limitr__get(n, "hard_trailing");
        ERR(cc, path, at ? at : n, "hard_trailing requires mode 'hard'");
    }
    if (lim->on_exceed_ref > 0 && lim->rule.mode == MODE_OBSERVE) {
        const doc_node *at = limitr__get(n, "on_exceed");
        ERR(cc, path, at ? at : n,
            "on_exceed is not allowed with mode 'observe'");
    }
    if (lim->rule.has_minimum && lim->value_ref == 0 &&
        lim->rule.minimum > lim->rule.value) {
        const doc_node *at = limitr__get(n, "minimum");
        char a[48], b[48];
        ERR(cc, path, at ? at : n, "minimum %s is above value %s",
            limitr__lnum_format(lim->rule.minimum, a),
            limitr__lnum_format(lim->rule.value, b));
    }
}
