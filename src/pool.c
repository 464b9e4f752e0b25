#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create, fallocate, ppoll, strsignal */
#endif
#include "pool.h"
#include "summary.h"

#include <errno.h>
#include <string.h>

static const char *const hook_names[] = {"none", "segv", "kill", "exit0", "exit3", "sleep"};

int pool_hook_parse(const char *name) {
  for (int i = 0; i < (int)(sizeof(hook_names) / sizeof(hook_names[0])); i++)
    if (strcmp(name, hook_names[i]) == 0) return i;
  return -1;
}

const char *pool_state_name(pool_state s) {
  static const char *const names[] = {"running", "done", "failed"};
  return s >= POOL_RUNNING && s <= POOL_FAILED ? names[s] : "unknown";
}

size_t pool_round64(size_t n) { return (n + 63) / 64 * 64; }

size_t pool_head_bytes(void) { return pool_round64(sizeof(pool_job_head)); }

static size_t round_page(size_t n) { return (n + 4095) / 4096 * 4096; }

size_t pool_job_layout(pool_job_head *h, size_t arena_bytes, int64_t n_blocks,
                       int64_t n_groups, size_t out_bytes, int partial_sums) {
  h->marks = pool_round64(arena_bytes);
  h->group_done = pool_round64(h->marks + (size_t)n_blocks);
  h->stats = pool_round64(h->group_done + (size_t)n_groups * sizeof(int64_t));
  h->out = round_page(h->stats + (size_t)n_groups * 4 * sizeof(double) + POOL_OUT_GAP);
  h->partials = round_page(h->out + out_bytes);
  h->n_blocks = n_blocks;
  return h->partials + (partial_sums ? (size_t)n_blocks * sizeof(long double) : 0);
}

void pool_job_reset(pool_job_head *h) {
  memset((char *)h + h->marks, 0, h->out - POOL_OUT_GAP - h->marks);
}

int pool_job_bind(void *base, kernel_group *groups_mem, kernel_means_job *means,
                  alias_table *table, kernel_draws_job *draws) {
  pool_job_head *h = (pool_job_head *)base;
  char *b = (char *)base;
  if (h->magic != POOL_JOB_MAGIC) return EINVAL;
  if (h->kind == POOL_JOB_MEANS) {
    const pool_job_group *pg = (const pool_job_group *)(b + h->groups);
    for (int64_t g = 0; g < h->n_groups; g++) {
      groups_mem[g].k = pg[g].k;
      groups_mem[g].cells = (const kernel_cell *)(b + pg[g].cells);
      groups_mem[g].k2 = pg[g].k2;
      groups_mem[g].cells2 = pg[g].k2 ? (const kernel_cell *)(b + pg[g].cells2) : NULL;
    }
    means->n_groups = h->n_groups;
    means->groups = groups_mem;
    means->n_means = h->n_means;
    means->sample_size = h->sample_size;
    means->seed = h->seed;
    means->out = (double *)(b + h->out);
    means->partials = (long double *)(b + h->partials);
    return 0;
  }
  if (h->kind == POOL_JOB_DRAWS) {
    alias_init(table, h->k, b + h->table);
    draws->table = table;
    draws->size = h->size;
    draws->seed = h->seed;
    draws->out = (int32_t *)(b + h->out);
    return 0;
  }
  return EINVAL;
}

void pool_job_block(pool_job_head *h, const kernel_means_job *means,
                    const kernel_draws_job *draws, int64_t block) {
  if (h->kind != POOL_JOB_MEANS) {
    kernel_draws_block(draws, block);
    return;
  }
  kernel_means_block(means, block);
  if (!h->summarise) return;
  /* Classic layout: a group's blocks are consecutive. The one who brings
   * the group's count to its number of blocks sees every other block's
   * means (acquire-release on the counter) and summarises them while they
   * are still in its cache; the selection reorders them in place. */
  const int64_t bpg = (h->n_means + KERNEL_BLOCK_MEANS - 1) / KERNEL_BLOCK_MEANS;
  const int64_t g = block / bpg;
  int64_t *done = (int64_t *)((char *)h + h->group_done);
  if (__atomic_add_fetch(&done[g], 1, __ATOMIC_ACQ_REL) != bpg) return;
  double *v = means->out + g * h->n_means;
  double *stats = (double *)((char *)h + h->stats) + 4 * g;
  summary_means(v, h->n_means, 1, h->probs[0], h->probs[1], v, stats);
}

int pool_run_borrow(pool_run *r, void *map, size_t bytes) {
  pool_run_init(r);
  r->map = map;
  r->bytes = bytes;
  r->head = (pool_job_head *)map;
  r->borrowed = 1;
  return 0;
}

#ifdef _WIN32

#include <stdio.h>
#include <stdlib.h>

/* No fork: only runs in this process, in memory from calloc. */
int pool_available(void) { return 0; }
void pool_child_exit(int status) { (void)status; }
int pool_worker_loop(int sock, pid_t helper) {
  (void)sock;
  (void)helper;
  return 1;
}
int pool_helper_main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return 1;
}
void pool_client_init(pool_client *c) { memset(c, 0, sizeof(*c)); }
int pool_client_start(pool_client *c, const char *exe, int workers, double idle_seconds) {
  (void)exe;
  (void)workers;
  (void)idle_seconds;
  snprintf(c->failure, sizeof(c->failure), "fork() is not available");
  return ENOSYS;
}
void pool_client_stop(pool_client *c) { (void)c; }
int pool_client_alive(pool_client *c) {
  (void)c;
  return 0;
}
void pool_run_init(pool_run *r) {
  memset(r, 0, sizeof(*r));
  r->fd = -1;
}
int pool_run_map(pool_run *r, size_t bytes, const char *tmpdir) {
  (void)bytes;
  (void)tmpdir;
  pool_run_init(r);
  return ENOSYS;
}
int pool_run_map_cached(pool_client *c, pool_run *r, size_t bytes, const char *tmpdir) {
  (void)c;
  (void)r;
  (void)bytes;
  (void)tmpdir;
  return ENOSYS;
}
size_t pool_cache_bytes(const pool_client *c) {
  (void)c;
  return 0;
}
int pool_run_detach(pool_client *c, pool_run *r) {
  (void)c;
  (void)r;
  return ENOSYS;
}
void pool_mapping_free(void *base) { (void)base; }
int pool_run_send(pool_client *c, pool_run *r, int used) {
  (void)c;
  (void)r;
  (void)used;
  return ENOSYS;
}
int64_t pool_run_progress(const pool_run *r) { return r->head ? r->head->completed : 0; }
pool_state pool_run_step(pool_client *c, pool_run *r, pool_block_fn self_fn, void *ctx,
                         double budget_ms, int wait_ms) {
  (void)c;
  (void)budget_ms;
  (void)wait_ms;
  if (r->state != POOL_RUNNING) return (pool_state)r->state;
  pool_job_head *h = r->head;
  unsigned char *marks = (unsigned char *)r->map + h->marks;
  /* Serial: up to 64 blocks a step, so that R sees interrupts. */
  for (int i = 0; i < 64 && h->next < h->end; i++) {
    const int64_t b = h->next++;
    self_fn(ctx, b);
    marks[b] = 1;
    h->completed++;
  }
  if (h->completed == h->end - h->first) r->state = POOL_DONE;
  return (pool_state)r->state;
}
void pool_run_discard(pool_run *r, size_t offset, size_t len) {
  (void)r;
  (void)offset;
  (void)len;
}
void pool_run_release(pool_client *c, pool_run *r) {
  (void)c;
  if (!r->borrowed) free(r->map);
  pool_run_init(r);
}

#else

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set on the socket instead */
#endif

extern char **environ;

int pool_available(void) { return 1; }

/* On Linux the raw exit_group system call: R CMD check flags compiled code
 * that links _exit (it could end the R session), and only children of R
 * ever come here. The helper and its workers are a program of their own:
 * they end by returning from main(). */
void pool_child_exit(int status) {
#if defined(__linux__) && defined(SYS_exit_group)
  for (;;) syscall(SYS_exit_group, status);
#else
  _exit(status);
#endif
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ms / 1e3);
  ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1e3) * 1e6);
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* Messages from the helper to the owner on the control socket. */
typedef struct {
  int32_t type; /* 'W' a worker's pid, 'X' a worker's wait status, 'F' fork failed */
  int32_t index;
  int32_t pid;
  int32_t status;
} pool_note;

static int send_all(int fd, const void *buf, size_t len) {
  const char *p = (const char *)buf;
  while (len > 0) {
    const ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

static void no_sigpipe(int fd) {
#ifdef SO_NOSIGPIPE
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#else
  (void)fd;
#endif
}

/* A socketpair with both ends close-on-exec, atomically where the system
 * can (SOCK_CLOEXEC), else at once after. */
static int cloexec_socketpair(int sv[2]) {
#ifdef SOCK_CLOEXEC
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) return 0;
  if (errno != EINVAL) return errno;
#endif
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return errno;
  if (fcntl(sv[0], F_SETFD, FD_CLOEXEC) == -1 || fcntl(sv[1], F_SETFD, FD_CLOEXEC) == -1) {
    const int e = errno;
    close(sv[0]);
    close(sv[1]);
    return e;
  }
  return 0;
}

/* ---- worker ------------------------------------------------------------- */

/* A worker's mapping of the job it was last sent, kept when that job says
 * so (the owner's cached mapping): the next job on it comes as a bare 'K'
 * and costs neither a mapping nor page faults. */
typedef struct {
  void *map;
  size_t bytes;
} worker_map;

static void worker_unmap(worker_map *wm) {
  if (wm->map) munmap(wm->map, wm->bytes);
  wm->map = NULL;
  wm->bytes = 0;
}

/* Runs one job, on the mapping of fd (a new job mapping: it replaces the
 * kept one) or, with fd < 0, on the kept one. Answers 'D' on sock as soon as
 * no block is left to take, before unmapping anything, so the owner is not
 * kept waiting. Returns -1 (answered), 0 when the owner is gone, or the
 * status the worker must end with (failures, exit hooks). */
static int worker_run(worker_map *wm, int fd, int sock, pid_t helper) {
  if (fd >= 0) {
    worker_unmap(wm);
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < pool_head_bytes()) return 72;
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return 73;
    wm->map = m;
    wm->bytes = (size_t)st.st_size;
  }
  if (!wm->map) return 76; /* 'K' without a kept mapping: a protocol error */
  pool_job_head *h = (pool_job_head *)wm->map;
  if (h->magic != POOL_JOB_MAGIC || h->bytes > wm->bytes) return 74;
  /* Read before answering: once answered, the owner may write the next job
   * over this head. */
  const int keep = h->keep;
  kernel_group *groups = NULL;
  kernel_means_job means;
  alias_table table;
  kernel_draws_job draws;
  memset(&means, 0, sizeof(means));
  memset(&draws, 0, sizeof(draws));
  if (h->kind == POOL_JOB_MEANS) {
    groups = (kernel_group *)malloc((size_t)(h->n_groups > 0 ? h->n_groups : 1) *
                                    sizeof(kernel_group));
    if (!groups) return 75;
  }
  if (pool_job_bind(wm->map, groups, &means, &table, &draws) != 0) {
    free(groups);
    return 74;
  }
  int status = -1;
  unsigned char *marks = (unsigned char *)wm->map + h->marks;
  for (;;) {
    const int64_t b = __atomic_fetch_add(&h->next, 1, __ATOMIC_RELAXED);
    if (b >= h->end) break;
    if (h->hook_action != POOL_HOOK_NONE && h->hook_block == b) {
      switch (h->hook_action) {
      case POOL_HOOK_SEGV: /* as a real crash would end, whatever handler (ASan) is set */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
        break;
      case POOL_HOOK_KILL: raise(SIGKILL); break;
      case POOL_HOOK_EXIT0: status = 0; break;
      case POOL_HOOK_EXIT3: status = 3; break;
      case POOL_HOOK_SLEEP: sleep_ms(h->hook_seconds * 1e3); break;
      default: break;
      }
      if (status >= 0) break;
    }
    pool_job_block(h, &means, &draws, b);
    __atomic_store_n(&marks[b], 1, __ATOMIC_RELEASE);
    __atomic_fetch_add(&h->completed, 1, __ATOMIC_RELEASE);
    /* Where PR_SET_PDEATHSIG is missing, this is how an orphan stops. */
    if (getppid() != helper) {
      status = 0;
      break;
    }
  }
  free(groups);
  if (status < 0) {
    const char done = 'D';
    if (send_all(sock, &done, 1) != 0) status = 0;
  }
  if (status >= 0 || !keep) worker_unmap(wm);
  return status;
}

/* Receives one byte and, if one came with it, a descriptor. Returns the
 * bytes read (0 at end of file) or -1. */
static ssize_t recv_fd(int sock, char *byte, int *fd) {
  struct msghdr msg;
  struct iovec iov;
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  memset(&msg, 0, sizeof(msg));
  iov.iov_base = byte;
  iov.iov_len = 1;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof(ctl.buf);
  *fd = -1;
#ifdef MSG_CMSG_CLOEXEC
  const ssize_t got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
#else
  const ssize_t got = recvmsg(sock, &msg, 0);
#endif
  if (got <= 0) return got;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      memcpy(fd, CMSG_DATA(c), sizeof(int));
  return got;
}

int pool_worker_loop(int sock, pid_t helper) {
  worker_map wm = {NULL, 0};
  for (;;) {
    struct pollfd p = {sock, POLLIN, 0};
    const int r = poll(&p, 1, 1000);
    if (r == 0) {
      if (getppid() != helper) return 0;
      continue;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      return 71;
    }
    char byte = 0;
    int fd = -1;
    const ssize_t got = recv_fd(sock, &byte, &fd);
    if (got == 0) return 0; /* the owner closed: the pool stops */
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return 71;
    }
    if (fd < 0 && byte != 'K') { /* nothing to run: answer all the same */
      const char done = 'D';
      if (send_all(sock, &done, 1) != 0) return 0;
      continue;
    }
    const int status = worker_run(&wm, fd, sock, helper);
    if (fd >= 0) close(fd);
    if (status >= 0) return status;
  }
}

/* ---- helper ------------------------------------------------------------- */

static volatile sig_atomic_t got_child = 0;
static void on_child(int sig) {
  (void)sig;
  got_child = 1;
}

/* Closes every descriptor from `first` on. */
static void close_from(int first) {
#if defined(__linux__) && defined(SYS_close_range)
  if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = first; fd < max; fd++) close(fd);
}

static void kill_and_reap(pid_t *pids, int n) {
  for (int i = 0; i < n; i++)
    if (pids[i] > 0) kill(pids[i], SIGKILL);
  /* Bounded: a SIGKILLed process is reapable within milliseconds. */
  const double end = now_ms() + 2000;
  int left = 0;
  do {
    left = 0;
    for (int i = 0; i < n; i++) {
      if (pids[i] <= 0) continue;
      int st;
      const pid_t r = waitpid(pids[i], &st, WNOHANG);
      if (r == pids[i] || (r == -1 && errno == ECHILD))
        pids[i] = 0;
      else
        left++;
    }
    if (left) sleep_ms(1);
  } while (left && now_ms() < end);
}

int pool_helper_main(int argc, char **argv) {
  if (argc != 4) return 64;
  const pid_t owner = (pid_t)strtol(argv[1], NULL, 10);
  const int n = (int)strtol(argv[2], NULL, 10);
  const double idle_ms = strtod(argv[3], NULL) * 1e3;
  if (n < 0 || n >= POOL_MAX_WORKERS) return 64;
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  if (getppid() != owner) return 70; /* the owner is gone already */
  const int ctl = 3;
  close_from(4 + n);
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core); /* crash hooks must not litter cores */
  no_sigpipe(ctl);

  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_child;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, NULL);

  pid_t pids[POOL_MAX_WORKERS];
  const pid_t me = getpid();
  for (int i = 0; i < n; i++) {
    const pid_t pid = fork();
    if (pid == 0) {
      signal(SIGCHLD, SIG_DFL);
      sigprocmask(SIG_SETMASK, &old, NULL);
#ifdef __linux__
      prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
      if (getppid() != me) return 70;
      close(ctl);
      for (int j = 0; j < n; j++)
        if (j != i) close(4 + j);
      no_sigpipe(4 + i);
      return pool_worker_loop(4 + i, me);
    }
    if (pid < 0) {
      pool_note note = {'F', i, 0, errno};
      send_all(ctl, &note, sizeof(note));
      kill_and_reap(pids, i);
      return 71;
    }
    pids[i] = pid;
  }
  for (int i = 0; i < n; i++) close(4 + i);
  for (int i = 0; i < n; i++) {
    pool_note note = {'W', i, (int32_t)pids[i], 0};
    if (send_all(ctl, &note, sizeof(note)) != 0) {
      kill_and_reap(pids, n);
      return 0;
    }
  }

  int busy = 0;
  double last = now_ms();
  for (;;) {
    struct pollfd p = {ctl, POLLIN, 0};
    double wait = 1000; /* at least once a second: is the owner there? */
    if (!busy && idle_ms > 0) {
      const double left = last + idle_ms - now_ms();
      if (left < wait) wait = left < 0 ? 0 : left;
    }
#ifdef __linux__
    struct timespec ts = {(time_t)(wait / 1e3),
                          (long)((wait - (double)(time_t)(wait / 1e3) * 1e3) * 1e6)};
    const int r = ppoll(&p, 1, &ts, &old); /* SIGCHLD only while waiting: no lost wake-up */
#else
    sigprocmask(SIG_SETMASK, &old, NULL);
    const int r = poll(&p, 1, got_child ? 0 : (wait > 100 ? 100 : (int)wait));
    sigprocmask(SIG_BLOCK, &chld, NULL);
#endif
    if (r > 0) {
      char buf[64];
      const ssize_t got = recv(ctl, buf, sizeof(buf), MSG_DONTWAIT);
      if (got == 0) break; /* the owner closed or died */
      if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
      int quit = 0;
      for (ssize_t i = 0; i < got; i++) {
        if (buf[i] == 'B') busy = 1;
        if (buf[i] == 'E') busy = 0;
        if (buf[i] == 'Q') quit = 1;
      }
      if (got > 0) last = now_ms();
      if (quit) break;
    }
    got_child = 0;
    for (;;) {
      int st;
      const pid_t pid = waitpid(-1, &st, WNOHANG);
      if (pid <= 0) break;
      for (int i = 0; i < n; i++)
        if (pids[i] == pid) {
          pids[i] = 0;
          pool_note note = {'X', i, (int32_t)pid, st};
          send_all(ctl, &note, sizeof(note));
        }
    }
    if (getppid() != owner) break;
    if (!busy && idle_ms > 0 && now_ms() - last >= idle_ms) break;
  }
  kill_and_reap(pids, n);
  return 0;
}

/* ---- owner -------------------------------------------------------------- */

void pool_client_init(pool_client *c) {
  memset(c, 0, sizeof(*c));
  c->ctl = -1;
  c->cache_fd = -1;
  for (int i = 0; i < POOL_MAX_WORKERS; i++) {
    c->fd[i] = -1;
    c->status[i] = -1;
  }
}

static void client_close_fds(pool_client *c) {
  if (c->ctl >= 0) close(c->ctl);
  c->ctl = -1;
  for (int i = 0; i < c->n; i++) {
    if (c->fd[i] >= 0) close(c->fd[i]);
    c->fd[i] = -1;
  }
}

/* Waits at most ms for the helper; SIGKILL and a second bounded wait after. */
static void reap_helper(pool_client *c, double ms, int *status) {
  if (c->helper <= 0) return;
  const double end = now_ms() + ms;
  int st = 0;
  for (int round = 0; round < 2; round++) {
    for (;;) {
      const pid_t r = waitpid(c->helper, &st, WNOHANG);
      if (r == c->helper || (r == -1 && errno != EINTR)) {
        if (status && r == c->helper) *status = st;
        c->helper = 0;
        return;
      }
      if (now_ms() >= end + round * 2000) break;
      sleep_ms(1);
    }
    kill(c->helper, SIGKILL);
  }
  c->helper = 0; /* still not reapable after SIGKILL + 2 s: give up waiting */
}

static void cache_release(pool_client *c) {
  if (c->cache_map) munmap(c->cache_map, c->cache_bytes);
  if (c->cache_fd >= 0) close(c->cache_fd);
  c->cache_map = NULL;
  c->cache_bytes = 0;
  c->cache_fd = -1;
  c->cache_busy = 0;
  for (int i = 0; i < POOL_MAX_WORKERS; i++) c->worker_gen[i] = 0;
}

size_t pool_cache_bytes(const pool_client *c) { return c->cache_map ? c->cache_bytes : 0; }

void pool_client_stop(pool_client *c) {
  cache_release(c); /* in a forked child: its copy of the parent's */
  if (c->owner == 0) return;
  if (c->owner == getpid()) {
    if (c->ctl >= 0) {
      const char q = 'Q';
      send(c->ctl, &q, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    client_close_fds(c);
    reap_helper(c, 2000, NULL);
  } else {
    client_close_fds(c); /* a forked child's copies; the pool is its parent's */
  }
  const double calls = c->calls;
  pool_client_init(c);
  c->calls = calls;
}

static int read_note(pool_client *c, int wait_ms) {
  pool_note note;
  struct pollfd p = {c->ctl, POLLIN, 0};
  const int r = poll(&p, 1, wait_ms);
  if (r <= 0) return r == 0 ? 0 : (errno == EINTR ? 0 : -1);
  const ssize_t got = recv(c->ctl, &note, sizeof(note), MSG_WAITALL);
  if (got != (ssize_t)sizeof(note)) return -1; /* the helper is gone */
  if (note.index >= 0 && note.index < c->n) {
    if (note.type == 'W') c->pid[note.index] = note.pid;
    if (note.type == 'X') c->status[note.index] = note.status;
  }
  if (note.type == 'F') {
    snprintf(c->failure, sizeof(c->failure), "fork() in the pool's helper failed: %s",
             strerror(note.status));
    return -2;
  }
  return 1;
}

int pool_client_start(pool_client *c, const char *exe, int workers, double idle_seconds) {
  pool_client_init(c); /* c may be uninitialised: a running pool is stopped first */
  const int n = workers - 1;
  if (n < 1 || n >= POOL_MAX_WORKERS) {
    snprintf(c->failure, sizeof(c->failure), "bad number of workers %d", workers);
    return EINVAL;
  }
  int ctl[2] = {-1, -1}, wk[POOL_MAX_WORKERS][2];
  int err = 0, made = 0;
  const char *failed = "socketpair()";
  if ((err = cloexec_socketpair(ctl)) == 0) {
    for (; made < n; made++)
      if ((err = cloexec_socketpair(wk[made])) != 0) break;
  }
  /* The child's ends go to 3 .. 3 + n: move them out of that range first
   * so that no dup2 in the child overwrites another one. */
  int child_ctl = -1, child_wk[POOL_MAX_WORKERS];
  if (!err) {
    failed = "fcntl(F_DUPFD_CLOEXEC)";
    child_ctl = fcntl(ctl[1], F_DUPFD_CLOEXEC, 4 + n);
    if (child_ctl < 0) err = errno;
    for (int i = 0; i < n && !err; i++) {
      child_wk[i] = fcntl(wk[i][1], F_DUPFD_CLOEXEC, 4 + n);
      if (child_wk[i] < 0) {
        err = errno;
        for (int j = 0; j < i; j++) close(child_wk[j]);
        close(child_ctl);
      }
    }
  }
  if (!err) {
    close(ctl[1]);
    for (int i = 0; i < n; i++) close(wk[i][1]);
  } else {
    if (ctl[0] >= 0) {
      close(ctl[0]);
      close(ctl[1]);
    }
    for (int i = 0; i < made; i++) {
      close(wk[i][0]);
      close(wk[i][1]);
    }
    snprintf(c->failure, sizeof(c->failure), "%s failed: %s", failed, strerror(err));
    return err;
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, child_ctl, 3);
  for (int i = 0; i < n; i++) posix_spawn_file_actions_adddup2(&fa, child_wk[i], 4 + i);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setpgroup(&at, 0); /* the terminal's Ctrl-C is R's alone */
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                    POSIX_SPAWN_SETPGROUP);
  char a1[32], a2[32], a3[64];
  snprintf(a1, sizeof(a1), "%ld", (long)getpid());
  snprintf(a2, sizeof(a2), "%d", n);
  snprintf(a3, sizeof(a3), "%.3f", idle_seconds);
  /* BOOTSCALE_POOL_WRAPPER (tools/valgrind.sh: "valgrind --quiet ..."):
   * a program the helper runs under, words split on spaces. */
  char *argv[24];
  int argc = 0;
  char wrap[1024] = "";
  const char *w = getenv("BOOTSCALE_POOL_WRAPPER");
  if (w && *w) {
    snprintf(wrap, sizeof(wrap), "%s", w);
    for (char *tok = strtok(wrap, " "); tok && argc < 19; tok = strtok(NULL, " "))
      argv[argc++] = tok;
  }
  const char *prog = argc ? argv[0] : exe;
  argv[argc++] = (char *)exe;
  argv[argc++] = a1;
  argv[argc++] = a2;
  argv[argc++] = a3;
  argv[argc] = NULL;
  pid_t pid = 0;
  err = posix_spawnp(&pid, prog, &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(child_ctl);
  for (int i = 0; i < n; i++) close(child_wk[i]);
  c->ctl = ctl[0];
  c->n = n;
  for (int i = 0; i < n; i++) c->fd[i] = wk[i][0];
  no_sigpipe(c->ctl);
  for (int i = 0; i < n; i++) no_sigpipe(c->fd[i]);
  if (err) {
    client_close_fds(c);
    snprintf(c->failure, sizeof(c->failure), "posix_spawn() of %s failed: %s", exe,
             strerror(err));
    c->n = 0;
    return err;
  }
  c->helper = pid;
  c->owner = getpid();
  /* The helper reports each worker's pid; a bounded wait for them (longer
   * under a wrapper such as valgrind). */
  const double end = now_ms() + (w && *w ? 60000 : 5000);
  int known = 0;
  while (known < n) {
    const double left = end - now_ms();
    const int r = left > 0 ? read_note(c, (int)left + 1) : 0;
    if (r <= 0 || r == -2) {
      char why[256];
      snprintf(why, sizeof(why), "%s",
               r == -2  ? c->failure
               : r == 0 ? "the pool's helper did not answer within 5 s"
                        : "the pool's helper ended at start-up");
      /* (the 5 s above: 60 s under a wrapper) */
      pool_client_stop(c);
      snprintf(c->failure, sizeof(c->failure), "%s", why);
      return r == -2 ? EAGAIN : ECHILD;
    }
    known = 0;
    for (int i = 0; i < n; i++) known += c->pid[i] > 0;
  }
  return 0;
}

static void drain_answers(pool_client *c, int i) {
  char buf[64];
  while (c->pending[i] > 0) {
    const ssize_t got = recv(c->fd[i], buf, sizeof(buf), MSG_DONTWAIT);
    if (got <= 0) {
      if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        c->broken = 1;
      return;
    }
    c->pending[i] -= (int)got;
  }
}

int pool_client_alive(pool_client *c) {
  if (c->owner == 0 || c->owner != getpid()) return 0;
  if (c->broken) return 0;
  /* Anything on the control socket: notes of dead workers, or its end
   * (the helper stopped when idle, or was killed). */
  for (;;) {
    const int r = read_note(c, 0);
    if (r == 0) break;
    if (r < 0) {
      c->broken = 1;
      return 0;
    }
  }
  struct pollfd p[POOL_MAX_WORKERS];
  for (int i = 0; i < c->n; i++) {
    p[i].fd = c->fd[i];
    p[i].events = POLLIN;
    p[i].revents = 0;
  }
  if (poll(p, (nfds_t)c->n, 0) > 0)
    for (int i = 0; i < c->n; i++) {
      if (!p[i].revents) continue;
      if (c->pending[i] > 0)
        drain_answers(c, i);
      else
        c->broken = 1; /* nothing was asked: end of file */
      if (p[i].revents & (POLLHUP | POLLERR)) c->broken = 1;
    }
  for (int i = 0; i < c->n; i++)
    if (c->status[i] != -1) c->broken = 1;
  return !c->broken;
}

/* ---- runs --------------------------------------------------------------- */

void pool_run_init(pool_run *r) {
  memset(r, 0, sizeof(*r));
  r->map = MAP_FAILED;
  r->fd = -1;
}

int pool_run_map(pool_run *r, size_t bytes, const char *tmpdir) {
  pool_run_init(r);
  if (bytes < pool_head_bytes()) bytes = pool_head_bytes();
  int fd = -1;
  const char *call = "memfd_create()";
#if defined(__linux__) && defined(MFD_CLOEXEC)
  fd = memfd_create("bootscale-job", MFD_CLOEXEC);
#endif
  if (fd < 0) {
    /* No memfd: a file in the session's own temporary directory, mode 0600
     * (mkstemp), unlinked at once, so nothing can open it by name. */
    char path[4096];
    snprintf(path, sizeof(path), "%s/bootscale-job-XXXXXX", tmpdir ? tmpdir : "/tmp");
    call = "mkstemp()";
    fd = mkstemp(path);
    if (fd >= 0) {
      unlink(path);
      fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  }
  if (fd < 0) {
    const int e = errno;
    snprintf(r->failure, sizeof(r->failure), "%s failed: %s", call, strerror(e));
    return e;
  }
  if (ftruncate(fd, (off_t)bytes) != 0) {
    const int e = errno;
    close(fd);
    snprintf(r->failure, sizeof(r->failure), "ftruncate() to %.0f bytes failed: %s",
             (double)bytes, strerror(e));
    return e;
  }
  void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    const int e = errno;
    close(fd);
    snprintf(r->failure, sizeof(r->failure), "mmap() of %.0f shared bytes failed: %s",
             (double)bytes, strerror(e));
    return e;
  }
  r->map = m;
  r->bytes = bytes;
  r->fd = fd;
  r->shared = 1;
  r->head = (pool_job_head *)m;
  return 0;
}

/* Waits, at most ms in all, for the answers still owed by workers (a run
 * stopped early leaves some): 0 when none is owed any more. */
static int wait_answers(pool_client *c, double ms) {
  const double end = now_ms() + ms;
  for (;;) {
    int owed = 0;
    for (int i = 0; i < c->n; i++) {
      if (c->pending[i] > 0) drain_answers(c, i);
      owed += c->pending[i] > 0;
    }
    if (!owed || c->broken) return owed;
    const double left = end - now_ms();
    if (left <= 0) return owed;
    struct pollfd p[POOL_MAX_WORKERS];
    nfds_t np = 0;
    for (int i = 0; i < c->n; i++)
      if (c->pending[i] > 0) {
        p[np].fd = c->fd[i];
        p[np].events = POLLIN;
        p[np].revents = 0;
        np++;
      }
    poll(p, np, left < 50 ? (int)left + 1 : 50);
  }
}

int pool_run_map_cached(pool_client *c, pool_run *r, size_t bytes, const char *tmpdir) {
  if (bytes < pool_head_bytes()) bytes = pool_head_bytes();
  /* A worker still in the last job on the cache must be out of it before
   * its head is written over. */
  const int usable = c && c->owner == getpid() && !c->cache_busy && !c->broken &&
                     bytes <= POOL_CACHE_MAX && wait_answers(c, 2000) == 0;
  if (!usable) return pool_run_map(r, bytes, tmpdir);
  if (!c->cache_map || c->cache_bytes < bytes) {
    /* Grow in whole MiB, so that a run a little larger than the last one
     * does not remake it. */
    size_t want = (bytes + ((size_t)1 << 20) - 1) >> 20 << 20;
    if (want > POOL_CACHE_MAX) want = POOL_CACHE_MAX;
    const int err = pool_run_map(r, want, tmpdir);
    if (err) return err;
    cache_release(c);
    c->cache_map = r->map;
    c->cache_bytes = r->bytes;
    c->cache_fd = r->fd;
    c->cache_gen++;
    if (c->cache_gen == 0) c->cache_gen = 1;
  } else {
    pool_run_init(r);
    r->map = c->cache_map;
    r->bytes = c->cache_bytes;
    r->fd = c->cache_fd;
    r->shared = 1;
    r->head = (pool_job_head *)r->map;
  }
  r->cached = 1;
  c->cache_busy = 1;
  return 0;
}

static int send_fd(int sock, int fd) {
  struct msghdr msg;
  struct iovec iov;
  char byte = 'J';
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  memset(&msg, 0, sizeof(msg));
  memset(&ctl, 0, sizeof(ctl));
  iov.iov_base = &byte;
  iov.iov_len = 1;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof(ctl.buf);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  for (;;) {
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) == 1) return 0;
    if (errno != EINTR) return errno;
  }
}

int pool_run_send(pool_client *c, pool_run *r, int used) {
  if (!c || c->owner != getpid() || used > c->n || !r->shared) return EINVAL;
  c->calls++;
  if (!c->busy) {
    const char b = 'B';
    if (send(c->ctl, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) c->busy = 1;
  }
  r->head->keep = r->cached;
  for (int i = 0; i < used; i++) {
    int err = 0;
    if (r->cached && c->worker_gen[i] == c->cache_gen) {
      const char k = 'K'; /* the mapping the worker kept */
      err = send_all(c->fd[i], &k, 1);
    } else {
      err = send_fd(c->fd[i], r->fd);
    }
    c->worker_gen[i] = r->cached ? c->cache_gen : 0;
    if (err) {
      /* Workers that got it stop at once (the counter is past the end). */
      __atomic_store_n(&r->head->next, r->head->end, __ATOMIC_RELEASE);
      r->used = i;
      c->broken = 1;
      snprintf(r->failure, sizeof(r->failure),
               "sending the job to worker %d (pid %ld) failed: %s", i + 1, (long)c->pid[i],
               strerror(err));
      r->state = POOL_FAILED;
      return err;
    }
    c->pending[i]++;
  }
  r->used = used;
  return 0;
}

int64_t pool_run_progress(const pool_run *r) {
  if (!r->head) return 0;
  return __atomic_load_n(&r->head->completed, __ATOMIC_ACQUIRE);
}

static int run_complete(const pool_run *r) {
  const pool_job_head *h = r->head;
  if (__atomic_load_n(&h->completed, __ATOMIC_ACQUIRE) != h->end - h->first) return 0;
  const unsigned char *marks = (const unsigned char *)r->map + h->marks;
  for (int64_t b = h->first; b < h->end; b++)
    if (!__atomic_load_n(&marks[b], __ATOMIC_ACQUIRE)) return 0;
  return 1;
}

static void describe_status(char *buf, size_t len, const char *who, int st) {
  if (WIFSIGNALED(st)) {
    const int sig = WTERMSIG(st);
    const char *name = strsignal(sig);
    snprintf(buf, len, "%s was killed by signal %d (%s)", who, sig, name ? name : "unknown");
  } else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
    snprintf(buf, len, "%s exited without completing its blocks (status 0)", who);
  } else if (WIFEXITED(st)) {
    snprintf(buf, len, "%s exited with status %d", who, WEXITSTATUS(st));
  } else {
    snprintf(buf, len, "%s ended abnormally (wait status %d)", who, st);
  }
}

/* Worker i's socket reached end of file: say what happened to it, or to the
 * helper when it is the helper that went. */
static void describe_death(pool_client *c, pool_run *r, int i) {
  const double end = now_ms() + 1000;
  int helper_gone = 0;
  while (c->status[i] == -1 && now_ms() < end) {
    const int got = read_note(c, 50);
    if (got < 0) {
      helper_gone = 1;
      break;
    }
  }
  char who[64];
  if (helper_gone || c->status[i] == -1) {
    int st = -1;
    const pid_t hp = c->helper;
    if (helper_gone) reap_helper(c, 500, &st);
    if (st != -1) {
      snprintf(who, sizeof(who), "the pool's helper process (pid %ld)", (long)hp);
      describe_status(r->failure, sizeof(r->failure), who, st);
    } else {
      snprintf(r->failure, sizeof(r->failure),
               "worker %d (pid %ld) closed its connection without a known cause", i + 1,
               (long)c->pid[i]);
    }
    return;
  }
  snprintf(who, sizeof(who), "worker %d (pid %ld)", i + 1, (long)c->pid[i]);
  describe_status(r->failure, sizeof(r->failure), who, c->status[i]);
}

pool_state pool_run_step(pool_client *c, pool_run *r, pool_block_fn self_fn, void *ctx,
                         double budget_ms, int wait_ms) {
  if (r->state != POOL_RUNNING) return (pool_state)r->state;
  pool_job_head *h = r->head;
  unsigned char *marks = (unsigned char *)r->map + h->marks;
  int exhausted = !r->self_work;
  if (r->self_work) {
    const double t0 = now_ms();
    for (;;) {
      const int64_t b = __atomic_fetch_add(&h->next, 1, __ATOMIC_RELAXED);
      if (b >= h->end) {
        exhausted = 1;
        break;
      }
      self_fn(ctx, b);
      __atomic_store_n(&marks[b], 1, __ATOMIC_RELEASE);
      __atomic_fetch_add(&h->completed, 1, __ATOMIC_RELEASE);
      if (now_ms() - t0 >= budget_ms) break;
    }
  }
  if (run_complete(r)) {
    r->state = POOL_DONE;
    return POOL_DONE;
  }
  if (!c || r->used == 0) {
    if (exhausted) { /* cannot happen: nobody else has blocks */
      snprintf(r->failure, sizeof(r->failure), "blocks were lost");
      r->state = POOL_FAILED;
    }
    return (pool_state)r->state;
  }
  struct pollfd p[POOL_MAX_WORKERS + 1];
  for (int i = 0; i < r->used; i++) {
    p[i].fd = c->fd[i];
    p[i].events = POLLIN;
    p[i].revents = 0;
  }
  p[r->used].fd = c->ctl;
  p[r->used].events = POLLIN;
  p[r->used].revents = 0;
  /* Nothing left to pull: wait for the workers (a completed block does not
   * wake us, so wait in short slices and look at the marks). */
  const int timeout = exhausted ? (wait_ms < 20 ? wait_ms : 20) : 0;
  const int got = poll(p, (nfds_t)r->used + 1, timeout);
  if (got > 0) {
    if (p[r->used].revents) {
      const int nr = read_note(c, 0);
      if (nr < 0) {
        c->broken = 1;
        int st = -1;
        const pid_t hp = c->helper;
        reap_helper(c, 500, &st);
        char who[64];
        snprintf(who, sizeof(who), "the pool's helper process (pid %ld)", (long)hp);
        if (st != -1)
          describe_status(r->failure, sizeof(r->failure), who, st);
        else
          snprintf(r->failure, sizeof(r->failure), "%s ended", who);
        r->state = POOL_FAILED;
        return POOL_FAILED;
      }
    }
    for (int i = 0; i < r->used; i++) {
      if (!p[i].revents) continue;
      char buf[64];
      const ssize_t n = recv(c->fd[i], buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        c->pending[i] -= (int)n;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      c->broken = 1;
      describe_death(c, r, i);
      r->state = POOL_FAILED;
      return POOL_FAILED;
    }
  }
  for (int i = 0; i < r->used; i++)
    if (c->status[i] != -1) { /* the helper saw it die */
      c->broken = 1;
      char who[64];
      snprintf(who, sizeof(who), "worker %d (pid %ld)", i + 1, (long)c->pid[i]);
      describe_status(r->failure, sizeof(r->failure), who, c->status[i]);
      r->state = POOL_FAILED;
      return POOL_FAILED;
    }
  if (run_complete(r)) r->state = POOL_DONE;
  return (pool_state)r->state;
}

void pool_run_discard(pool_run *r, size_t offset, size_t len) {
  if (r->map == MAP_FAILED) return;
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const size_t from = (offset + page - 1) / page * page;
  const size_t to = (offset + len) / page * page;
  if (to <= from) return;
#if defined(__linux__) && defined(FALLOC_FL_PUNCH_HOLE)
  if (r->shared && fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)from,
                             (off_t)(to - from)) == 0)
    return;
#endif
#ifdef MADV_REMOVE
  if (r->shared && madvise((char *)r->map + from, to - from, MADV_REMOVE) == 0) return;
#endif
  if (!r->shared) madvise((char *)r->map + from, to - from, MADV_DONTNEED);
}

void pool_run_release(pool_client *c, pool_run *r) {
  if (r->map != MAP_FAILED && r->head && r->state == POOL_RUNNING)
    __atomic_store_n(&r->head->next, r->head->end, __ATOMIC_RELEASE);
  if (c && r->used && c->busy && c->ctl >= 0 && c->owner == getpid()) {
    const char e = 'E';
    if (send(c->ctl, &e, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) c->busy = 0;
  }
  if (r->cached) {
    if (c) c->cache_busy = 0;
  } else if (!r->borrowed) {
    if (r->map != MAP_FAILED) munmap(r->map, r->bytes);
    if (r->fd >= 0) close(r->fd);
  }
  pool_run_init(r);
}

void pool_mapping_free(void *base) {
  munmap(base, (size_t)((const pool_job_head *)base)->bytes);
}

int pool_run_detach(pool_client *c, pool_run *r) {
  if (r->map == MAP_FAILED || r->cached || r->borrowed || r->state != POOL_DONE) return EINVAL;
  if (r->shared) {
    void *m =
        mmap(r->map, r->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, r->fd, 0);
    if (m == MAP_FAILED) return errno ? errno : ENOMEM;
  }
  if (c && r->used && c->busy && c->ctl >= 0 && c->owner == getpid()) {
    const char e = 'E';
    if (send(c->ctl, &e, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) c->busy = 0;
  }
  if (r->fd >= 0) close(r->fd);
  pool_run_init(r);
  return 0;
}

#endif
