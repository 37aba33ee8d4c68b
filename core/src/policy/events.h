/* events.h: the events this version emits (docs/engine.md section 10), by kind
 * and name: the vocabulary of a policy's `handlers` and of subscriptions. */
#ifndef LIMITR_EVENTS_H
#define LIMITR_EVENTS_H

#define LIMITR_EVENT_LIST(X)                                                   \
    X(METER_CHANGED, "meter-changed")                                          \
    X(METER_OVERAGE, "meter-overage")                                          \
    X(METER_LIMIT, "meter-limit")                                              \
    X(METER_GOVERNED, "meter-governed")                                        \
    X(METER_RESET, "meter-reset")                                              \
    X(CUSTOMER_SET, "customer-set")                                            \
    X(CUSTOMER_REMOVED, "customer-removed")                                    \
    X(CUSTOMER_PLAN_CHANGED, "customer-plan-changed")                          \
    X(CUSTOMER_TOPUP_GRANTED, "customer-topup-granted")                        \
    X(CAP_LIMIT, "cap-limit")                                                  \
    X(CAP_THRESHOLD_CROSSED, "cap-threshold-crossed")                          \
    X(CUSTOMER_CAP_ADDED, "customer-cap-added")                                \
    X(CUSTOMER_CAP_RESET, "customer-cap-reset")                                \
    X(CUSTOMER_CAP_REMOVED, "customer-cap-removed")                            \
    X(POLICY_RELOADED, "policy-reloaded")                                      \
    X(ERROR, "error")

typedef enum event_kind {
#define LIMITR_EVENT_ENUM(name, text) EV_##name,
    LIMITR_EVENT_LIST(LIMITR_EVENT_ENUM)
#undef LIMITR_EVENT_ENUM
        EV_COUNT
} event_kind;

_Static_assert(EV_COUNT <= 32, "lp_policy.handler_refs holds 32 events");

extern const char *const limitr__event_names[EV_COUNT];

/* The kind of an event name, or -1. */
int limitr__event_find(const char *name);

#endif
