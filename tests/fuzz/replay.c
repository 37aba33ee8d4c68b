/* replay.c: a main() for a fuzz target without libFuzzer (any compiler): runs
 * LLVMFuzzerTestOneInput on every corpus file and fixed mutations of it.
 * Usage: replay [-v] <dir or file>...   (-v names each input on stderr) */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz_policy.h"

/* Seconds one file and its mutations may take: more is a hang. */
#define FILE_TIMEOUT 20

/* Mutations per file, besides the file itself. */
#define N_TRUNCATIONS 48
#define N_FLIPS 48
#define N_SPECIALS 32
#define N_SPLICES 16

/* Bytes that change the structure of YAML and JSON documents (the last one
 * is a NUL byte; the string's own terminator is not used). */
static const char specials[] = "{}[]:,\"'\n\t -&*!#|>?%@`\\0eE.+u\0";

static int verbose;
static unsigned long n_inputs;

/* xorshift64*: a fixed PRNG so that every run replays the same inputs. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(2685821657736338717);
}

/* Runs the target on a copy of exactly len bytes, so that a read past the
 * end is caught by ASan or valgrind. */
static void run(const unsigned char *data, size_t len, const char *path,
                const char *what, unsigned index)
{
    unsigned char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        fprintf(stderr, "replay: out of memory\n");
        exit(2);
    }
    if (len > 0) memcpy(copy, data, len);
    if (verbose)
        fprintf(stderr, "%s %s %u (%zu bytes)\n", path, what, index, len);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
    n_inputs++;
}

static void replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL, *buf = NULL;
    size_t len = 0, cap = 0, got, step;
    uint64_t state = UINT64_C(0x9e3779b97f4a7c15);
    unsigned i;
    const char *name;

    if (f == NULL) {
        perror(path);
        exit(2);
    }
    do {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            data = realloc(data, cap);
            if (data == NULL) {
                fprintf(stderr, "replay: out of memory\n");
                exit(2);
            }
        }
        got = fread(data + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    fclose(f);
    /* Twice the file: room for a splice. */
    buf = malloc(2 * len + 1);
    if (buf == NULL) {
        fprintf(stderr, "replay: out of memory\n");
        exit(2);
    }
    /* The seed depends on the file's name only, not on the order. */
    name = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
    for (; *name != '\0'; name++)
        state = (state ^ (unsigned char)*name) * UINT64_C(0x100000001b3);
    if (state == 0) state = 1;

    run(data, len, path, "as is", 0);
    /* Prefixes at N_TRUNCATIONS evenly spaced lengths (0 included). */
    step = len / N_TRUNCATIONS > 0 ? len / N_TRUNCATIONS : 1;
    for (i = 0; i < N_TRUNCATIONS && i * step < len; i++)
        run(data, i * step, path, "truncated", i);
    /* One to three bytes xored with random values. */
    for (i = 0; i < N_FLIPS && len > 0; i++) {
        unsigned n = 1 + (unsigned)(next_random(&state) % 3), k;
        memcpy(buf, data, len);
        for (k = 0; k < n; k++)
            buf[next_random(&state) % len] ^=
                (unsigned char)(1 + next_random(&state) % 255);
        run(buf, len, path, "flipped", i);
    }
    /* One byte replaced by a structural character. */
    for (i = 0; i < N_SPECIALS && len > 0; i++) {
        memcpy(buf, data, len);
        buf[next_random(&state) % len] = (unsigned char)
            specials[next_random(&state) % (sizeof specials - 1)];
        run(buf, len, path, "special", i);
    }
    /* A slice of the file inserted again elsewhere (duplicate keys,
     * repeated lines, doubled nesting). */
    for (i = 0; i < N_SPLICES && len > 0; i++) {
        size_t from = next_random(&state) % len;
        size_t n = 1 + next_random(&state) % (len - from);
        size_t at = next_random(&state) % (len + 1);
        memcpy(buf, data, at);
        memcpy(buf + at, data + from, n);
        memcpy(buf + at + n, data + at, len - at);
        run(buf, len + n, path, "spliced", i);
    }
    free(buf);
    free(data);
}

/* Runs one file and its mutations in a child process, so that a crash or a
 * hang names the file and the other files still run. Returns 1 if it
 * failed, 0 if not; adds the inputs run to n_inputs. */
static int replay_isolated(const char *path)
{
    int fds[2], status;
    unsigned long done = 0;
    pid_t pid;
    fflush(NULL);
    if (pipe(fds) != 0 || (pid = fork()) < 0) {
        perror("replay");
        exit(2);
    }
    if (pid == 0) {
        close(fds[0]);
        n_inputs = 0;
        alarm(FILE_TIMEOUT);
        replay_file(path);
        if (write(fds[1], &n_inputs, sizeof n_inputs) < 0) _exit(2);
        exit(0); /* exit, not _exit: leak checkers report here */
    }
    close(fds[1]);
    if (read(fds[0], &done, sizeof done) != (ssize_t)sizeof done) done = 0;
    close(fds[0]);
    if (waitpid(pid, &status, 0) < 0) {
        perror("replay: waitpid");
        exit(2);
    }
    n_inputs += done;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        fprintf(stderr, "FAILED %s: still running after %d s (a hang?)\n", path,
                FILE_TIMEOUT);
    else if (WIFSIGNALED(status))
        fprintf(stderr, "FAILED %s: killed by signal %d\n", path,
                WTERMSIG(status));
    else
        fprintf(stderr, "FAILED %s: exit status %d\n", path,
                WEXITSTATUS(status));
    fprintf(stderr, "  (rerun with -v on that file to see which input)\n");
    return 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order; counts files and failures. */
static void replay_dir(const char *dir, unsigned *files, unsigned *failed)
{
    DIR *d = opendir(dir);
    struct dirent *ent;
    char **paths = NULL;
    size_t n = 0, cap = 0, i;
    if (d == NULL) {
        perror(dir);
        exit(2);
    }
    while ((ent = readdir(d)) != NULL) {
        size_t size = strlen(dir) + strlen(ent->d_name) + 2;
        struct stat st;
        char *path;
        if (ent->d_name[0] == '.') continue;
        path = malloc(size);
        if (path == NULL) exit(2);
        snprintf(path, size, "%s/%s", dir, ent->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            paths = realloc(paths, cap * sizeof *paths);
            if (paths == NULL) exit(2);
        }
        paths[n++] = path;
    }
    closedir(d);
    if (n > 0) qsort(paths, n, sizeof *paths, by_name);
    for (i = 0; i < n; i++) {
        *failed += (unsigned)replay_isolated(paths[i]);
        free(paths[i]);
    }
    *files += (unsigned)n;
    free(paths);
}

int main(int argc, char **argv)
{
    unsigned files = 0, failed = 0;
    int i;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (strcmp(argv[i], "-v") == 0) {
            verbose = 1;
            continue;
        }
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 2;
        }
        if (S_ISDIR(st.st_mode)) {
            replay_dir(argv[i], &files, &failed);
        } else {
            failed += (unsigned)replay_isolated(argv[i]);
            files++;
        }
    }
    if (files == 0) {
        fprintf(stderr, "usage: %s [-v] <corpus dir or file>...\n", argv[0]);
        return 2;
    }
    printf("replayed %lu inputs from %u files, %u failed\n", n_inputs, files,
           failed);
    return failed > 0;
}
