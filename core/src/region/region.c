/* region.c: the shared state region (region.h, docs/shared.md).
 *
 * Layout: the header (this file's struct region), the undo journal, then
 * the heap the allocator hands out from, up to the end of the mapping.
 *
 * The allocator has no block headers (the state's frees pass the size):
 * sizes round up to a class (16-byte steps up to 2 KiB, then powers of
 * two), each class a free list threaded through its free blocks, fresh
 * memory taken from a bump pointer. Nothing is split or merged, so its
 * every change is a few 8-byte stores, each journaled.
 *
 * The journal: while a process holds the lock, every store into the region
 * is preceded by an entry saving the bytes it overwrites ([addr, len,
 * bytes, total]), and frees become entries too, carried out at the unlock.
 * The unlock's last store empties the journal: that is the commit. A holder
 * that dies leaves a journal behind; the next holder (EOWNERDEAD) copies the
 * saved bytes back, newest first, and the section never happened.
 *
 * The journal is a chain of pieces: the fixed one after the header, then,
 * for a section that outgrows it (an import, a reload converting units),
 * pieces carved from the top of the heap's untouched room, which the
 * section's own allocations then no longer reach. The commit or the undo
 * gives that room back. When the room cannot hold the journal, or an
 * allocation needs the room it borrowed, the section gives its journal up
 * (counted): it is made, as before, but a death inside it is no longer
 * undone. */
#define _GNU_SOURCE /* MAP_ANONYMOUS, pthread_mutex_consistent */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "region.h"

#define REGION_MAGIC 0x4c494d4954524547ULL /* "LIMITREG" */
#define REGION_LAYOUT 2

#define SMALL_STEP 16
#define SMALL_MAX 2048
#define N_SMALL (SMALL_MAX / SMALL_STEP)
#define N_LARGE 48
#define N_CLASSES (N_SMALL + N_LARGE)
#define LARGE_MIN ((size_t)4096)

enum { ENTRY_SAVE = 1, ENTRY_FREE = 2 };

/* The most pieces a journal has: each new one is at least as big as all
   before it (while the room allows), so this is far past any section. */
#define MAX_PIECES 48

/* A piece of the journal; its entries follow. */
typedef struct piece {
    struct piece *prev; /* the piece before, NULL for the fixed one */
    size_t cap;         /* bytes for entries */
    size_t len;         /* bytes of whole entries (written last) */
} piece;

/* A journal entry's head; a SAVE's bytes follow, padded to 8, then the
 * entry's total length (so the journal reads backwards). */
typedef struct entry {
    char *addr;
    size_t len;
    size_t kind;
} entry;

struct region {
    uint64_t magic;
    uint32_t layout;
    size_t size;
    pthread_mutex_t lock;
    int locked;     /* a section is open (its holder writes through it) */
    int overflowed; /* the open section gave its journal up */
    int ran_out;    /* an allocation of the open section found no room */
    int freeing;    /* the unlock carries out the recorded frees */

    /* the allocator */
    char *heap; /* where it starts */
    char *bump, *end;
    void *free_list[N_CLASSES];
    size_t used;

    void *root; /* the state */

    /* the policy every process follows */
    char *policy;
    size_t policy_len;
    char format[8];
    uint64_t generation;

    /* the journal */
    piece *fixed;     /* its first piece, after the header */
    piece *journal;   /* its newest piece; NULL: nothing to undo (the commit
                         stores NULL) */
    size_t journaled; /* bytes in its pieces before the newest */
    int n_pieces;
    size_t n_frees; /* deferred frees in the open section */

    uint64_t overflows, recoveries, leaked, grown;
    uint64_t locks; /* sections opened */
    uint64_t waits; /* of them, those that found the lock held */
};

/* ---- Fault points (tests) ---- */

static long fault_countdown;

void limitr__region_fault_after(long n)
{
    fault_countdown = n;
}

static void fault_step(void)
{
    if (fault_countdown > 0 && --fault_countdown == 0) raise(SIGKILL);
}

/* ---- The journal ---- */

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static char *entries(piece *p)
{
    return (char *)(p + 1);
}

/* The heap's end with no room lent to the journal: 64-aligned whatever the
   size (the mapping is page-aligned), so the pieces cut below it are. */
static char *heap_top(const region *r)
{
    return (char *)r + (r->size & ~(size_t)63);
}

/* Calls fn on every free the journal records, in no order (what fn adds
   comes after each piece's end as read here). */
static void journal_frees(region *r, void (*fn)(region *, void *, size_t))
{
    piece *p;
    for (p = r->journal; p != NULL; p = p->prev) {
        size_t pos = 0, end = p->len;
        while (pos < end) {
            entry head;
            memcpy(&head, entries(p) + pos, sizeof head);
            if (head.kind == ENTRY_FREE) fn(r, head.addr, head.len);
            pos += sizeof head +
                   (head.kind == ENTRY_SAVE ? round8(head.len) : 0) +
                   sizeof(size_t);
        }
    }
}

static void spill(region *r, void *p, size_t n);

/* The open section goes on without a journal: it outgrew the fixed part
 * and the room it could borrow, or an allocation needs that room. It is
 * made, but a death inside it is no longer undone (counted); the frees the
 * journal recorded wait in this process for the unlock, and the room goes
 * back to the heap. Nothing is journaled again before the unlock, so a
 * recovery never undoes part of a section. */
static void journal_give_up(region *r)
{
    if (!r->overflowed) r->overflows++;
    r->overflowed = 1;
    if (!r->freeing) journal_frees(r, spill); /* (the unlock frees them) */
    __atomic_store_n(&r->journal, NULL, __ATOMIC_RELEASE);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    r->end = heap_top(r);
}

/* A new newest piece for an entry of `need` bytes, carved from the top of
 * the heap's untouched room: as big as the journal so far (few pieces), at
 * most half the room (the section allocates too), at least the entry. NULL
 * when the room cannot hold it. */
static piece *grow(region *r, size_t need)
{
    size_t room = (size_t)(r->end - r->bump), size;
    size_t so_far = r->journaled + r->journal->cap;
    piece *p;
    if (r->n_pieces >= MAX_PIECES) return NULL;
    size = so_far < room / 2 ? so_far : room / 2;
    if (size < sizeof *p + need) size = sizeof *p + need;
    size = (size + 63) & ~(size_t)63; /* keeps r->end 64-aligned */
    if (size > room) return NULL;
    p = (piece *)(void *)(r->end - size);
    p->prev = r->journal;
    p->cap = size - sizeof *p;
    p->len = 0;
    r->end = (char *)p;
    r->journaled = so_far;
    r->n_pieces++;
    if (r->n_pieces == 2) r->grown++;
    /* whole before it is reached (a recovery walks from r->journal) */
    __atomic_store_n(&r->journal, p, __ATOMIC_RELEASE);
    return p;
}

/* Appends an entry; 0, or -1 when the section has no journal (given up:
 * neither the journal nor the room left held it). */
static int journal_append(region *r, char *addr, size_t len, size_t kind)
{
    size_t data = kind == ENTRY_SAVE ? round8(len) : 0;
    size_t total = sizeof(entry) + data + sizeof(size_t);
    piece *p = r->journal;
    entry head = {addr, len, kind};
    char *at;
    if (r->overflowed) return -1;
    if (p == NULL) { /* the section's first entry */
        r->fixed->len = 0;
        r->journaled = 0;
        r->n_pieces = 1;
        __atomic_store_n(&r->journal, r->fixed, __ATOMIC_RELEASE);
        p = r->fixed;
    }
    if (p->cap - p->len < total && (p = grow(r, total)) == NULL) {
        journal_give_up(r);
        return -1;
    }
    at = entries(p) + p->len;
    memcpy(at, &head, sizeof head);
    if (data) memcpy(at + sizeof head, addr, len);
    memcpy(at + sizeof head + data, &total, sizeof total);
    /* The entry is whole before it counts, and counts before the store it
       protects, in the compiled code too: a kill lands between any two
       instructions. */
    __atomic_store_n(&p->len, p->len + total, __ATOMIC_RELEASE);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return 0;
}

/* The journal emptied (the commit, or the end of an undo): one store, then
 * its room back to the heap. */
static void journal_reset(region *r)
{
    __atomic_store_n(&r->journal, NULL, __ATOMIC_RELEASE);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    r->end = heap_top(r);
    r->n_frees = 0;
    r->overflowed = 0;
    r->freeing = 0;
}

void limitr__region_save(void *ud, const void *p, size_t n)
{
    region *r = ud;
    if (!r->locked || n == 0) return;
    fault_step();
    journal_append(r, (char *)p, n, ENTRY_SAVE);
}

#define SAVE(r, field) limitr__region_save((r), &(field), sizeof(field))

/* Copies every saved range back, newest first. */
static void journal_undo(region *r)
{
    piece *p;
    for (p = __atomic_load_n(&r->journal, __ATOMIC_ACQUIRE); p != NULL;
         p = p->prev) {
        size_t pos = __atomic_load_n(&p->len, __ATOMIC_ACQUIRE);
        while (pos > 0) {
            size_t total;
            entry head;
            memcpy(&total, entries(p) + pos - sizeof total, sizeof total);
            pos -= total;
            memcpy(&head, entries(p) + pos, sizeof head);
            if (head.kind == ENTRY_SAVE)
                memcpy(head.addr, entries(p) + pos + sizeof head, head.len);
        }
    }
    journal_reset(r);
}

/* ---- The allocator ---- */

static int class_of(size_t n, size_t *class_size)
{
    int c;
    size_t s;
    if (n <= SMALL_MAX) {
        s = n == 0 ? SMALL_STEP : (n + SMALL_STEP - 1) & ~(size_t)15;
        *class_size = s;
        return (int)(s / SMALL_STEP) - 1;
    }
    for (c = 0, s = LARGE_MIN; s < n; c++) {
        if (c + 1 >= N_LARGE) return -1;
        s <<= 1;
    }
    *class_size = s;
    return N_SMALL + c;
}

static void *alloc_now(region *r, size_t n)
{
    size_t size;
    int c = class_of(n, &size);
    void *p;
    if (c < 0) return NULL;
    fault_step();
    if ((p = r->free_list[c]) != NULL) {
        SAVE(r, r->free_list[c]);
        limitr__region_save(r, p, sizeof(void *));
        memcpy(&r->free_list[c], p, sizeof(void *));
    } else {
        SAVE(r, r->bump); /* first: journaling it may borrow room */
        if ((size_t)(r->end - r->bump) < size) {
            /* the room the journal borrowed comes back first: the call is
               made unjournaled rather than refused (as before the journal
               could borrow) */
            if ((size_t)(heap_top(r) - r->bump) < size) {
                r->ran_out = 1;
                return NULL;
            }
            journal_give_up(r);
        }
        p = r->bump;
        r->bump += size;
    }
    SAVE(r, r->used);
    r->used += size;
    return p;
}

static void free_now(region *r, void *p, size_t n)
{
    size_t size;
    int c = class_of(n, &size);
    if (c < 0) return;
    fault_step();
    SAVE(r, r->free_list[c]);
    limitr__region_save(r, p, sizeof(void *));
    memcpy(p, &r->free_list[c], sizeof(void *));
    r->free_list[c] = p;
    SAVE(r, r->used);
    r->used -= size;
}

/* Frees of a section that gave its journal up (those the journal had
 * recorded, and those after), kept in this process (the one holding the
 * lock) until its unlock. Were it to die first they would only be leaked:
 * its section is not undoable anyway once it has no journal. */
static struct {
    const region *r;
    void *p;
    size_t n;
} * spilled;
static size_t n_spilled, cap_spilled;

void limitr__region_forked(void)
{
    n_spilled = 0; /* the parent's section's, the parent frees them */
}

static void spill(region *r, void *p, size_t n)
{
    if (n_spilled == cap_spilled) {
        size_t cap = cap_spilled ? cap_spilled * 2 : 64;
        void *grown = realloc(spilled, cap * sizeof *spilled);
        if (grown == NULL) {
            r->leaked += n;
            return;
        }
        spilled = grown;
        cap_spilled = cap;
    }
    spilled[n_spilled].r = r;
    spilled[n_spilled].p = p;
    spilled[n_spilled].n = n;
    n_spilled++;
}

static void free_later(region *r, void *p, size_t n)
{
    if (!r->locked) {
        free_now(r, p, n);
        return;
    }
    /* Not reused before the commit: an undo needs it as it is. */
    if (journal_append(r, p, n, ENTRY_FREE) != 0) spill(r, p, n);
    r->n_frees++;
}

void *limitr__region_realloc(void *ud, void *ptr, size_t old_size,
                             size_t new_size)
{
    region *r = ud;
    void *p;
    if (new_size == 0) {
        if (ptr != NULL) free_later(r, ptr, old_size);
        return NULL;
    }
    if ((p = alloc_now(r, new_size)) == NULL) return NULL;
    if (ptr != NULL) {
        memcpy(p, ptr, old_size < new_size ? old_size : new_size);
        free_later(r, ptr, old_size);
    }
    return p;
}

/* ---- Life cycle ---- */

region *limitr__region_map(size_t size)
{
    region *r;
    pthread_mutexattr_t attr;
    size_t fixed;
    if (size < REGION_MIN_SIZE) {
        errno = EINVAL;
        return NULL;
    }
    /* the heap starts 64-aligned whatever the size: lnum is __int128 */
    fixed = (REGION_FIXED_SIZE(size) + 63) & ~(size_t)63;
    r = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
             0);
    if (r == MAP_FAILED) return NULL;
    memset(r, 0, sizeof *r);
    if (pthread_mutexattr_init(&attr) != 0 ||
        pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
        pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0 ||
        pthread_mutex_init(&r->lock, &attr) != 0) {
        munmap(r, size);
        errno = ENOTSUP;
        return NULL;
    }
    pthread_mutexattr_destroy(&attr);
    r->magic = REGION_MAGIC;
    r->layout = REGION_LAYOUT;
    r->size = size;
    r->fixed = (piece *)(void *)((char *)r + ((sizeof *r + 63) & ~(size_t)63));
    r->fixed->cap =
        fixed - (size_t)((char *)r->fixed - (char *)r) - sizeof(piece);
    r->heap = r->bump = (char *)r + fixed;
    r->end = heap_top(r);
    return r;
}

void limitr__region_unmap(region *r)
{
    if (r != NULL) munmap(r, r->size);
}

size_t limitr__region_size(const region *r)
{
    return r->size;
}

/* ---- The lock ---- */

static int locked_by_us(region *r, int rc)
{
    if (rc == EOWNERDEAD) {
        /* Its holder died inside a section: undo it. */
        journal_undo(r);
        r->recoveries++;
        if (pthread_mutex_consistent(&r->lock) != 0) {
            pthread_mutex_unlock(&r->lock); /* not held on: unrecoverable */
            return -1;
        }
        rc = 0;
    }
    if (rc != 0) return -1;
    r->locked = 1;
    r->ran_out = 0;
    r->locks++;
    return 0;
}

int limitr__region_lock(region *r, int64_t timeout_ms)
{
    struct timespec until;
    int rc = pthread_mutex_trylock(&r->lock);
    if (rc != EBUSY) return locked_by_us(r, rc);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    rc = pthread_mutex_timedlock(&r->lock, &until);
    if (rc == ETIMEDOUT) return 1;
    if (locked_by_us(r, rc) != 0) return -1;
    r->waits++;
    return 0;
}

void limitr__region_unlock(region *r)
{
    size_t k, kept = 0;
    if (r->n_frees > 0) {
        r->freeing = 1; /* what these frees journal adds no frees */
        journal_frees(r, free_now);
        /* then those the journal had no room for */
        for (k = 0; k < n_spilled; k++)
            if (spilled[k].r == r)
                free_now(r, spilled[k].p, spilled[k].n);
            else
                spilled[kept++] = spilled[k];
        n_spilled = kept;
    }
    fault_step();
    journal_reset(r); /* the commit */
    r->locked = 0;
    pthread_mutex_unlock(&r->lock);
}

int limitr__region_undo(region *r)
{
    if (!r->locked || r->overflowed) return -1;
    journal_undo(r);
    return 0;
}

/* ---- The root and the policy ---- */

void *limitr__region_root(const region *r)
{
    return r->root;
}

void limitr__region_set_root(region *r, void *root)
{
    SAVE(r, r->root);
    r->root = root;
}

int limitr__region_set_policy(region *r, const char *text, size_t len,
                              const char *format)
{
    char *copy = alloc_now(r, len + 1);
    if (copy == NULL) return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (r->policy != NULL) free_later(r, r->policy, r->policy_len + 1);
    SAVE(r, r->policy);
    SAVE(r, r->policy_len);
    SAVE(r, r->format);
    SAVE(r, r->generation);
    r->policy = copy;
    r->policy_len = len;
    memset(r->format, 0, sizeof r->format);
    if (format != NULL) strncpy(r->format, format, sizeof r->format - 1);
    r->generation++;
    return 0;
}

int limitr__region_ran_out(const region *r)
{
    return r->ran_out;
}

uint64_t limitr__region_generation(const region *r)
{
    return __atomic_load_n(&r->generation, __ATOMIC_ACQUIRE);
}

const char *limitr__region_policy(const region *r, size_t *len,
                                  const char **format)
{
    *len = r->policy_len;
    *format = r->format[0] ? r->format : NULL;
    return r->policy;
}

void limitr__region_stats(const region *r, region_stats *out)
{
    out->size = r->size;
    out->used = (size_t)(r->heap - (const char *)r) + r->used;
    out->free = r->size - out->used;
    out->journal_overflows = r->overflows;
    out->journal_grown = r->grown;
    out->lent = (size_t)(heap_top(r) - r->end);
    out->recoveries = r->recoveries;
    out->locks = r->locks;
    out->lock_waits = r->waits;
}
