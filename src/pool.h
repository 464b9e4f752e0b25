/*
 * pool: the persistent worker pool, run by a fork server. Pure C + POSIX.
 *
 * Three kinds of process:
 *  - the owner (the R session, through api.c) holds a pool_client;
 *  - the helper, the executable bootscale-pool (src/helper/main.c, built
 *    from these same objects, linking nothing of R), started once by the
 *    owner with posix_spawn;
 *  - workers - 1 workers forked by the helper. The owner works as one of
 *    the W itself.
 *
 * Life of the pool:
 *  1. pool_client_start: the owner makes one control socketpair and one
 *     socketpair per worker (close-on-exec), and spawns the helper in a
 *     process group of its own (a terminal's Ctrl-C reaches R only) with
 *     default signal handlers, an empty signal mask, /dev/null on 0-2, the
 *     control socket on descriptor 3 and worker i's socket on 4 + i. The
 *     helper closes every other descriptor, asks to be killed when the
 *     owner dies (PR_SET_PDEATHSIG; getppid() checks where that is missing),
 *     forks the workers (each keeps only its own socket and likewise dies
 *     with the helper) and reports their pids. Nothing has a name another
 *     process could open.
 *  2. A job lives in one shared mapping (memfd_create; an unlinked mode-0600
 *     file in the owner's temporary directory where memfd is missing):
 *     header, counters, inputs by offset, one done mark per block, the
 *     output area and partial sums. The owner sends the descriptor with
 *     SCM_RIGHTS and one byte to each worker it uses (MSG_NOSIGNAL: a dead
 *     worker is EPIPE, never SIGPIPE in R), then pulls blocks from the same
 *     counter between its own interrupt and progress checks
 *     (pool_run_step). Workers map the job, pull blocks, mark them done,
 *     unmap and answer one byte. A job is complete when every block of its
 *     range is marked.
 *  3. End of file on a worker's socket: the worker died. The helper reaps
 *     its children and tells the owner their wait status on the control
 *     socket, so the owner can say "killed by signal 11". The run fails
 *     (no partial result) and the pool is marked broken; the next call
 *     rebuilds it. Stopping a run early (an interrupt) pushes the counter
 *     past the end: workers stop at their next block and answer; the
 *     owner does not wait for them (their answers are read later).
 *  4. The helper exits on pool_client_stop, on end of file on the control
 *     socket, when the owner is gone, and after idle_seconds without a job
 *     (then the owner finds the control socket closed at its next call and
 *     starts a new pool). It kills and reaps its workers first, waiting at
 *     most a bounded time.
 *
 * The owner side is not thread-safe and belongs to the process that started
 * it (owner pid): a forked child must not use its parent's client.
 * Windows has no fork: pool_available() is 0 there and callers run serially.
 */
#ifndef BOOTSCALE_POOL_H
#define BOOTSCALE_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernel.h"

#define POOL_MAX_WORKERS 256
#define POOL_JOB_MAGIC UINT64_C(0x626f6f74706f6f6c) /* "bootpool" */

/* Test hooks: make the worker that takes `block` misbehave. */
typedef enum {
  POOL_HOOK_NONE = 0,
  POOL_HOOK_SEGV,  /* raise SIGSEGV */
  POOL_HOOK_KILL,  /* raise SIGKILL */
  POOL_HOOK_EXIT0, /* end the worker with status 0 without doing the block */
  POOL_HOOK_EXIT3, /* end it with status 3 */
  POOL_HOOK_SLEEP  /* sleep `seconds`, then do the block */
} pool_hook_action;

/* The hook actions by name ("none", "segv", "kill", "exit0", "exit3",
 * "sleep"), as R names them: the action, or -1 for an unknown name. */
int pool_hook_parse(const char *name);

typedef enum { POOL_JOB_MEANS = 1, POOL_JOB_DRAWS = 2 } pool_job_kind;

/* A group of a means job: offsets of its cells from the mapping's start. */
typedef struct {
  int64_t k, k2;
  uint64_t cells, cells2;
} pool_job_group;

/* The head of a job's mapping. Everything is addressed by offset, since
 * each process maps the job at its own address. */
typedef struct {
  uint64_t magic;
  uint64_t bytes;
  int32_t kind;
  int32_t hook_action;
  int64_t hook_block;
  double hook_seconds;
  /* means */
  int64_t n_groups, n_means, sample_size;
  uint64_t seed;
  /* draws */
  int64_t k, size;
  /* blocks [first, end) of n_blocks are run */
  int64_t n_blocks, first, end;
  uint64_t groups, table, marks, out, partials; /* offsets */
  /* Summaries in the run (classic means layout, whole job): whoever
   * finishes a group's last block summarises the group in place (see
   * pool_job_block); one counter a group and four doubles of stats. */
  int32_t summarise;
  int32_t keep; /* workers keep this mapping for the next job */
  double probs[2];
  uint64_t group_done, stats;     /* offsets */
  _Alignas(64) int64_t next;      /* next block to hand out */
  _Alignas(64) int64_t completed; /* blocks finished */
  _Alignas(64) char end_of_head;
} pool_job_head;

/* Bytes of the head, rounded to a cache line. */
size_t pool_head_bytes(void);
/* n rounded up to a cache line (64 bytes): where the arena's parts start. */
size_t pool_round64(size_t n);
/* A run's mapping after the job's arena of arena_bytes: one done mark a
 * block, the groups' counters and stats (n_groups of each, for summaries in
 * the run), then (page-aligned, at least POOL_OUT_GAP bytes after them) the
 * output of out_bytes, then (page-aligned, when partial_sums) one long
 * double a block. Writes the offsets and n_blocks into h; returns the
 * mapping's bytes. */
size_t pool_job_layout(pool_job_head *h, size_t arena_bytes, int64_t n_blocks,
                       int64_t n_groups, size_t out_bytes, int partial_sums);
/* Free bytes right before the output: room for an R vector's header when
 * the run's mapping becomes the result (api.c). */
#define POOL_OUT_GAP 256

/* The kernel jobs a process runs from a mapped job. groups_mem holds
 * n_groups kernel_group (means only). Returns 0 or EINVAL for a bad head. */
int pool_job_bind(void *base, kernel_group *groups_mem, kernel_means_job *means,
                  alias_table *table, kernel_draws_job *draws);
/* Runs one block of a bound job; with h->summarise, the process that
 * completes a group's last block then summarises that group in place. */
void pool_job_block(pool_job_head *h, const kernel_means_job *means,
                    const kernel_draws_job *draws, int64_t block);
/* Zeroes a run's done marks and group counters before it starts (a cached
 * mapping holds the last job's). */
void pool_job_reset(pool_job_head *h);

int pool_available(void);
/* Ends a forked child of R at once (no atexit handlers, no stdio); never
 * returns where fork exists. For memory.c's test children. */
void pool_child_exit(int status)
#if defined(__GNUC__) && !defined(_WIN32)
    __attribute__((noreturn))
#endif
    ;

/* ---- worker and helper (in the helper executable) ---------------------- */

/* A worker's loop on its socket: returns the status the process should end
 * with (0 at end of file or when the helper is gone). */
int pool_worker_loop(int sock, pid_t helper);
/* The helper's life (argv as the owner passes it); returns the status the
 * helper executable should end with. A forked worker returns from here
 * too, with its own status. */
int pool_helper_main(int argc, char **argv);

/* ---- owner side --------------------------------------------------------- */

typedef struct {
  pid_t owner; /* the process that started it; 0 when not running */
  pid_t helper;
  int ctl;
  int n; /* worker processes (workers - 1) */
  int fd[POOL_MAX_WORKERS];
  pid_t pid[POOL_MAX_WORKERS];
  int pending[POOL_MAX_WORKERS]; /* jobs sent, answer not read yet */
  int status[POOL_MAX_WORKERS];  /* wait status from the helper, -1 unknown */
  int busy;                      /* a job is announced to the helper */
  int broken;
  double calls;
  /* The cached run mapping (summary runs reuse it: no page faults, no
   * mapping set-up, in this process or the workers, call after call) and
   * which generation of it each worker holds (0: none). */
  void *cache_map;
  size_t cache_bytes;
  int cache_fd, cache_busy;
  uint32_t cache_gen;
  uint32_t worker_gen[POOL_MAX_WORKERS];
  char failure[256];
} pool_client;

void pool_client_init(pool_client *c);
/* Starts helper and workers - 1 workers. Returns 0, or an errno value with
 * c->failure naming the failing call; nothing is left running then. */
int pool_client_start(pool_client *c, const char *exe, int workers, double idle_seconds);
/* Stops helper and workers (bounded waits); idempotent. Only the owner
 * kills anything: in another process it just forgets the pool. */
void pool_client_stop(pool_client *c);
/* 1 when the pool is up, owned by this process and not broken: reads what
 * the helper said and notices a helper that has gone (idle stop, killed). */
int pool_client_alive(pool_client *c);

/* One run of a job on the pool (or, with c == NULL, in this process). */
typedef struct {
  void *map;
  size_t bytes;
  int fd; /* the memfd, -1 for a private mapping */
  int shared;
  int cached;   /* the mapping is the client's cache: released, not unmapped */
  int borrowed; /* the mapping is the job's arena (pool_run_borrow) */
  pool_job_head *head;
  int used;      /* worker processes the job was sent to */
  int self_work; /* the owner pulls blocks too (not with a test hook) */
  int state;     /* POOL_RUNNING, POOL_DONE, POOL_FAILED */
  char failure[256];
} pool_run;

typedef enum { POOL_RUNNING = 0, POOL_DONE = 1, POOL_FAILED = 2 } pool_state;
/* "running", "done" or "failed": the state as R reads it. */
const char *pool_state_name(pool_state s);

/* A shared mapping of `bytes` (zero-filled) for a job on the pool: a memfd,
 * or a file in tmpdir. (A run in this process borrows its job's arena.)
 * Returns 0 or an errno value with r->failure naming the call. */
int pool_run_map(pool_run *r, size_t bytes, const char *tmpdir);
/* A run in this process over memory the caller owns (a job's arena from
 * memory_arena_alloc, as large as a run's mapping): nothing is mapped or
 * unmapped for it. Returns 0. */
int pool_run_borrow(pool_run *r, void *map, size_t bytes);
/* The same, shared, from the client's cache: reused when it is free and
 * large enough, else made and kept as the new cache when it is at most
 * POOL_CACHE_MAX bytes (else an ordinary shared mapping). */
int pool_run_map_cached(pool_client *c, pool_run *r, size_t bytes, const char *tmpdir);
#define POOL_CACHE_MAX ((size_t)64 << 20)
/* Output bytes from which a pool run's mapping becomes the result vector
 * itself rather than being copied (api.c). */
#define POOL_MAPPED_MIN ((size_t)1 << 20)
/* Bytes of the cached mapping (0 when there is none). */
size_t pool_cache_bytes(const pool_client *c);
/* Sends the job to `used` workers. 0 or an errno value (failure set). */
int pool_run_send(pool_client *c, pool_run *r, int used);
/* Works on the job for about budget_ms (pulling blocks with self_fn when
 * r->self_work), then looks at the workers, waiting up to wait_ms when
 * there is nothing left to pull. Returns the state. */
typedef void (*pool_block_fn)(void *ctx, int64_t block);
pool_state pool_run_step(pool_client *c, pool_run *r, pool_block_fn self_fn, void *ctx,
                         double budget_ms, int wait_ms);
int64_t pool_run_progress(const pool_run *r);
/* Gives pages [offset, offset + len) of the mapping back (whole pages
 * inside the range only). */
void pool_run_discard(pool_run *r, size_t offset, size_t len);
/* Stops the run if it is not done (workers stop at their next block),
 * tells the helper the pool is idle, unmaps and closes. Idempotent. */
void pool_run_release(pool_client *c, pool_run *r);
/* Ends a complete run whose mapping the caller now owns (it becomes an R
 * vector): the helper is told the pool is idle and the descriptor closed,
 * but nothing is unmapped. The mapping was made private first
 * (MAP_PRIVATE over the same file: forked children of R then get
 * copy-on-write pages, as for any R vector). Returns 0 or an errno value. */
int pool_run_detach(pool_client *c, pool_run *r);
/* Frees a detached run's mapping, given its start (its head holds its
 * size). */
void pool_mapping_free(void *base);
void pool_run_init(pool_run *r);

#endif
