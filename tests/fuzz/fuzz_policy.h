/* fuzz_policy.h: the shared body of the policy fuzz targets (fuzz_yaml.c,
 * fuzz_json.c) and the entry point libFuzzer and replay.c call. */
#ifndef LIMITR_FUZZ_POLICY_H
#define LIMITR_FUZZ_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* Loads data as a policy in `format` ("yaml" or "json"), exercises the
 * engine when it loads, and aborts when an API promise is broken. */
void fuzz_policy(const uint8_t *data, size_t size, const char *format);

/* Defined by each target; libFuzzer (or replay.c) calls it per input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
