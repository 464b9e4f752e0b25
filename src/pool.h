/*
 * pool: a fork-join worker pool, pure C + POSIX.
 *
 * Life of a call:
 *  1. pool_map: the parent maps one shared anonymous region holding the
 *     block counter, the progress counter, one completion mark per block and
 *     the caller's result area (pool_data).
 *  2. pool_fork: with all signals blocked, the parent forks `workers`
 *     children. A child resets every signal handler it inherited from R (some
 *     of them remove R's temporary directory or save the workspace), ignores
 *     SIGINT (the parent owns Ctrl-C), asks Linux to kill it when the parent
 *     dies, then pulls block indices with an atomic fetch-and-add, runs
 *     fn(ctx, block), marks the block done, writes one byte to its pipe when
 *     no block is left, and ends with _exit(0). Children call no R API, no
 *     malloc and no stdio.
 *  3. pool_wait: the parent polls one pipe per child (a byte: the child ran
 *     out of blocks; end of file: it exited), reaps its own pids only, and
 *     reports RUNNING, DONE or FAILED. DONE as soon as every block is marked
 *     done, even while the children are still exiting (their teardown of a
 *     large session takes milliseconds the caller can use to read the
 *     results). A child killed by a signal, exiting non-zero, or leaving
 *     blocks unmarked is a failure: the other children are killed and reaped
 *     at once and the failure is described.
 *  4. pool_release: kills and reaps whatever is left, closes the pipes and
 *     unmaps the region. Idempotent; safe at any point after pool_init; after
 *     DONE it only waits for children that are already exiting.
 *
 * Not thread-safe; one pool per job. Windows has no fork: pool_available()
 * is 0 there and callers run serially.
 */
#ifndef BOOTSCALE_POOL_H
#define BOOTSCALE_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define POOL_MAX_WORKERS 256

typedef void (*pool_block_fn)(const void *ctx, int64_t block);

/* Test hooks: make the worker that takes `block` misbehave. */
typedef enum {
  POOL_HOOK_NONE = 0,
  POOL_HOOK_SEGV,      /* raise SIGSEGV */
  POOL_HOOK_KILL,      /* raise SIGKILL */
  POOL_HOOK_EXIT0,     /* _exit(0) without doing the block */
  POOL_HOOK_EXIT3,     /* _exit(3) */
  POOL_HOOK_SLEEP      /* sleep `seconds`, then do the block */
} pool_hook_action;

typedef struct {
  pool_hook_action action;
  int64_t block;
  double seconds;
} pool_hook;

typedef enum { POOL_RUNNING = 0, POOL_DONE = 1, POOL_FAILED = 2 } pool_state;

typedef struct {
  int64_t next;       /* next block to hand out */
  int64_t completed;  /* blocks finished */
} pool_counters;

typedef struct {
  /* shared region */
  void *map;
  size_t map_bytes;
  pool_counters *counters;
  unsigned char *done;
  void *data;
  int64_t n_blocks;
  /* children */
  int workers;
  int alive;
  pid_t pid[POOL_MAX_WORKERS];
  int fd[POOL_MAX_WORKERS];      /* read end of each child's pipe, or -1 */
  int reaped[POOL_MAX_WORKERS];
  /* outcome */
  pool_state state;
  char failure[256];
} pool_t;

int pool_available(void);
/* Ends a forked child at once (no atexit handlers, no stdio); never returns
 * where fork exists. */
void pool_child_exit(int status)
#if defined(__GNUC__) && !defined(_WIN32)
    __attribute__((noreturn))
#endif
    ;
void pool_init(pool_t *p);
/* Maps the shared region; returns 0 or an errno value. */
int pool_map(pool_t *p, int64_t n_blocks, size_t data_bytes);
void *pool_data(pool_t *p);
/* Forks the children; returns 0 or an errno value (then nothing is left
 * running). */
int pool_fork(pool_t *p, int workers, pool_block_fn fn, const void *ctx,
              const pool_hook *hook);
/* Waits at most timeout_ms for the children; returns the state. */
pool_state pool_wait(pool_t *p, int timeout_ms);
int64_t pool_progress(const pool_t *p);
const char *pool_failure(const pool_t *p);
void pool_release(pool_t *p);

#endif
