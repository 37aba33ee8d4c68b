/* region.h: a state region shared by processes (docs/shared.md): one
 * MAP_SHARED mapping made before fork, at the same address in every process
 * that inherits it, so references inside are plain pointers. It holds the
 * customer state (its root, state_data), an allocator, one process-shared
 * robust lock and the undo journal that makes a locked section all or
 * nothing when its process dies inside it. */
#ifndef LIMITR_REGION_H
#define LIMITR_REGION_H

#include <stddef.h>
#include <stdint.h>

typedef struct region region;

/* The smallest region, and the part of any region that is not customers'
   (header, journal): docs/shared.md gives the sizing rule built on them. */
#define REGION_MIN_SIZE ((size_t)1 << 20)
#define REGION_FIXED_SIZE(size) (((size_t)256 << 10) + (size) / 64)

/* Maps a new region of size bytes (at least REGION_MIN_SIZE); NULL with
   errno set when the system refuses. */
region *limitr__region_map(size_t size);
void limitr__region_unmap(region *r);
size_t limitr__region_size(const region *r);

/* The lock. 0; 1: the wait passed timeout_ms (nothing held); -1: the lock
   cannot be recovered. A holder that died is undone first (its journal,
   backwards), so whoever takes the lock sees every section whole or not at
   all. Unlock commits: deferred frees happen, then the journal empties in
   one store. */
int limitr__region_lock(region *r, int64_t timeout_ms);
void limitr__region_unlock(region *r);
/* Undoes the open section so far, as a recovery would (the lock stays
   held; the unlock then commits what comes after): 0, or -1 when the
   section gave its journal up and cannot be undone. */
int limitr__region_undo(region *r);

/* The allocator, in state_home's shape (ud: the region): from inside a
   locked section, frees wait for the unlock (what a section freed is still
   there if it must be undone) and every change is journaled. */
void *limitr__region_realloc(void *ud, void *ptr, size_t old_size,
                             size_t new_size);
/* Journals n bytes at p before a locked section writes them. */
void limitr__region_save(void *ud, const void *p, size_t n);

/* The root of the state (state_data), kept in the header. */
void *limitr__region_root(const region *r);
void limitr__region_set_root(region *r, void *root);

/* The policy every process follows: its text (copied into the region) and
   a generation that each change moves. Set under the lock; 0, or -1: the
   region is full. */
int limitr__region_set_policy(region *r, const char *text, size_t len,
                              const char *format);
uint64_t limitr__region_generation(const region *r); /* acquire load */
const char *limitr__region_policy(const region *r, size_t *len,
                                  const char **format);

/* An allocation found no room since the lock was taken. */
int limitr__region_ran_out(const region *r);

typedef struct region_stats {
    size_t size, used, free;
    uint64_t journal_overflows; /* sections that outgrew the journal */
    uint64_t journal_grown;     /* sections whose journal took free room */
    size_t lent; /* room the open section's journal borrowed (0 outside) */
    uint64_t recoveries; /* dead holders undone */
    uint64_t locks;      /* sections opened */
    uint64_t lock_waits; /* of them, those that waited for another holder */
} region_stats;
void limitr__region_stats(const region *r, region_stats *out);

/* In the child of a fork: frees the parent's open section kept in this
   process are the parent's to make. */
void limitr__region_forked(void);

/* A test's fault point: the n-th journaled step from now (a save, an
   allocation, a free, the commit) kills the process with SIGKILL; 0
   disarms. Per process. */
void limitr__region_fault_after(long n);

#endif
