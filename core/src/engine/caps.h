/* caps.h: spend caps at work (caps.c, docs/engine.md 16): which caps a
 * call meets, what it consumes of each, the gate and the commit. */
#ifndef LIMITR_CAPS_H
#define LIMITR_CAPS_H

#include "decide.h"

typedef struct compiler compiler; /* compile.h */
typedef struct doc_node doc_node; /* doc.h */

#define MAX_CAP_NAMES 64 /* entries of a cap's shared_with or scope */

/* Where a compiled cap's strings live until the state copies them. */
typedef struct cap_fields_buf {
    char id[128]; /* "" when not given */
    const char *credit;
    char *with[MAX_CAP_NAMES], *scope[MAX_CAP_NAMES];
} cap_fields_buf;

/* Compiles the cap mapping root (at path) into *k, its strings in *b;
 * problems into cc. c: the holder (its ids must be new), or NULL. */
void limitr__cap_compile(limitr_engine *e, compiler *cc, const doc_node *root,
                         const char *path, const customer *c, cap_fields_buf *b,
                         spend_cap *k);

/* The caps passed on one call (opts.caps, docs/engine.md 16, "Caps on a
 * call"): they start at 0 and vanish after the call. */
#define MAX_CALL_SCOPED_CAPS 16
typedef struct call_caps {
    doc_node *root; /* the parsed option: the caps' strings live in it */
    size_t n;
    spend_cap caps[MAX_CALL_SCOPED_CAPS];
    cap_fields_buf bufs[MAX_CALL_SCOPED_CAPS];
} call_caps;

/* Parses opts.caps: {<credit> = ceiling} or a list of cap tables into
 * *out. LIMITR_OK, or the error set (LIMITR_INVALID naming the path). */
int limitr__call_caps_parse(limitr_engine *e, const char *json,
                            call_caps **out);
void limitr__call_caps_free(call_caps *cc);

/* k's meter value as it is at now (resets due applied in the view). */
lnum limitr__cap_meter_now(const spend_cap *k, int64_t now);

/* Gates 5-6 for d (a positive value, not forced): 1 when every applicable
 * cap has room; 0 denied (d->gate "cap", reason "cap" with the denying cap
 * kept for the event, or "too_many_caps" past the walk's bound), or 0 with
 * d->reason == limitr__caps_no_memory when the walk could not be made: no
 * decision then, never a cap skipped. */
int limitr__caps_gate(limitr_engine *e, decision *d);
extern const char limitr__caps_no_memory[];

/* Removes c's expired caps (calls that write only). */
void limitr__caps_remove_expired(limitr_engine *e, customer *c, int64_t now);

/* A reservation's room in every applicable standing cap (not observe-only)
 * for d's value: each cap's held grows and a part naming it is appended to
 * *parts. 0, or -1: out of memory. */
int limitr__caps_hold(limitr_engine *e, decision *d, lnum overhead,
                      uint64_t hold, int64_t expires, hold_part **parts,
                      size_t *n_parts);

/* The events a commit owes, built before any is delivered. */
typedef struct cap_events {
    size_t n;
    cJSON **events;
    int *kinds;
} cap_events;

/* After an allowed commit: every applicable cap adds what the call
 * consumed (observe-only ones too). Returns the events it owes
 * (cap-threshold-crossed on a crossing, customer-set for holders other
 * than the meter owner), or NULL: deliver them with cap_events_fire once
 * the call's own events are built. */
cap_events *limitr__caps_commit(limitr_engine *e, decision *d, int events);
void limitr__cap_events_fire(limitr_engine *e, cap_events *ce);

/* The cap-limit payload of a call the gate denied, or NULL (nobody
 * listens, no cap denied, out of memory). */
cJSON *limitr__caps_denied_event(limitr_engine *e, const decision *d,
                                 const limitr_call_opts *opts);

/* A cap as its snapshot (options, created_on, started, meter_value,
 * last_reset, remaining) at now. */
cJSON *limitr__cap_json(limitr_engine *e, const spend_cap *k, int64_t now);
cJSON *limitr__caps_json(limitr_engine *e, const customer *c, int64_t now);

#endif
