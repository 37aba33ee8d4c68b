/* sha256.h: SHA-256 (FIPS 180-4), for the policy fingerprint. */
#ifndef LIMITR_SHA256_H
#define LIMITR_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* The digest of len bytes at data as 64 lowercase hex digits and a NUL. */
void limitr__sha256_hex(const void *data, size_t len, char out[65]);

#endif
