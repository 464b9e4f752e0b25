#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, strsignal, MAP_ANONYMOUS */
#endif
#include "pool.h"

#include <errno.h>
#include <string.h>

#ifdef _WIN32

int pool_available(void) { return 0; }
void pool_child_exit(int status) { (void)status; }
void pool_init(pool_t *p) { memset(p, 0, sizeof(*p)); }
int pool_map(pool_t *p, int64_t n_blocks, size_t data_bytes) {
  (void)p; (void)n_blocks; (void)data_bytes;
  return ENOSYS;
}
void *pool_data(pool_t *p) { return p->data; }
int pool_fork(pool_t *p, int workers, pool_block_fn fn, const void *ctx,
              const pool_hook *hook) {
  (void)p; (void)workers; (void)fn; (void)ctx; (void)hook;
  return ENOSYS;
}
pool_state pool_wait(pool_t *p, int timeout_ms) { (void)timeout_ms; return p->state; }
int64_t pool_progress(const pool_t *p) { (void)p; return 0; }
const char *pool_failure(const pool_t *p) { return p->failure; }
void pool_release(pool_t *p) { (void)p; }

#else

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
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

int pool_available(void) { return 1; }

/* Ends a forked child without atexit handlers or stdio flushing. On Linux
 * the raw exit_group system call: R CMD check flags compiled code that links
 * _exit (it could end the R session), and only children ever come here. */
void pool_child_exit(int status) {
#if defined(__linux__) && defined(SYS_exit_group)
  for (;;) syscall(SYS_exit_group, status);
#else
  _exit(status);
#endif
}

void pool_init(pool_t *p) {
  memset(p, 0, sizeof(*p));
  p->map = MAP_FAILED;
  for (int i = 0; i < POOL_MAX_WORKERS; i++) p->fd[i] = -1;
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

int pool_map(pool_t *p, int64_t n_blocks, size_t data_bytes) {
  const size_t head = round_up(sizeof(pool_counters), 64);
  const size_t marks = round_up((size_t)n_blocks, 64);
  const size_t bytes = head + marks + data_bytes;
  void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return errno ? errno : ENOMEM;
  p->map = m;
  p->map_bytes = bytes;
  p->counters = (pool_counters *)m;
  p->done = (unsigned char *)m + head;
  p->data = (char *)m + head + marks;
  p->n_blocks = n_blocks;
  /* A fresh anonymous mapping is zero-filled: counters 0, no block done. */
  return 0;
}

void *pool_data(pool_t *p) { return p->data; }

static void sleep_seconds(double s) {
  struct timespec ts;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* Runs in the child; never returns. */
static void child_main(pool_t *p, int me, int wfd, pid_t parent, pool_block_fn fn,
                       const void *ctx, const pool_hook *hook) {
  /* R's handlers (SIGSEGV, SIGUSR1, SIGTERM, ...) act on the R session; in a
   * child they would act on the parent's session files. Back to defaults. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int s = 1; s < NSIG; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    sigaction(s, &dfl, NULL);
  }
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  if (getppid() != parent) pool_child_exit(70); /* the parent died before prctl */
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  /* Keep only this child's own pipe end; the others belong to siblings. */
  for (int i = 0; i < me; i++)
    if (p->fd[i] >= 0) close(p->fd[i]);

  pool_counters *c = p->counters;
  for (;;) {
    const int64_t b = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
    if (b >= p->n_blocks) break;
    if (hook && hook->action != POOL_HOOK_NONE && hook->block == b) {
      switch (hook->action) {
      case POOL_HOOK_SEGV: raise(SIGSEGV); break;
      case POOL_HOOK_KILL: raise(SIGKILL); break;
      case POOL_HOOK_EXIT0: pool_child_exit(0);
      case POOL_HOOK_EXIT3: pool_child_exit(3);
      case POOL_HOOK_SLEEP: sleep_seconds(hook->seconds); break;
      default: break;
      }
    }
    fn(ctx, b);
    __atomic_store_n(&p->done[b], 1, __ATOMIC_RELEASE);
    __atomic_fetch_add(&c->completed, 1, __ATOMIC_RELEASE);
  }
  /* Tell the parent now rather than when the pipe closes: closing comes
   * after the kernel has torn down this child's copy of the session (a few
   * ms), and the parent can use the results meanwhile. */
  const char one = 1;
  while (write(wfd, &one, 1) == -1 && errno == EINTR) {
  }
  pool_child_exit(0);
}

static void kill_all(pool_t *p) {
  for (int i = 0; i < p->workers; i++)
    if (!p->reaped[i] && p->pid[i] > 0) kill(p->pid[i], SIGKILL);
}

static void reap_all_blocking(pool_t *p) {
  for (int i = 0; i < p->workers; i++) {
    if (p->reaped[i] || p->pid[i] <= 0) continue;
    int st;
    while (waitpid(p->pid[i], &st, 0) == -1 && errno == EINTR) {
    }
    p->reaped[i] = 1;
    p->alive--;
  }
}

static void close_fds(pool_t *p) {
  for (int i = 0; i < POOL_MAX_WORKERS; i++)
    if (p->fd[i] >= 0) {
      close(p->fd[i]);
      p->fd[i] = -1;
    }
}

int pool_fork(pool_t *p, int workers, pool_block_fn fn, const void *ctx,
              const pool_hook *hook) {
  if (workers < 1 || workers > POOL_MAX_WORKERS) return EINVAL;
  if (p->map == MAP_FAILED) return EINVAL;
  fflush(NULL); /* nothing buffered may be written twice, by parent and child */

  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  const pid_t parent = getpid();
  int err = 0;
  p->workers = 0;
  for (int i = 0; i < workers; i++) {
    int fds[2];
    if (pipe(fds) == -1) {
      err = errno;
      break;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    p->fd[i] = fds[0];
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      p->fd[i] = -1;
      child_main(p, i, fds[1], parent, fn, ctx, hook);
    }
    close(fds[1]);
    if (pid == -1) {
      err = errno;
      close(fds[0]);
      p->fd[i] = -1;
      break;
    }
    p->pid[i] = pid;
    p->reaped[i] = 0;
    p->workers++;
    p->alive++;
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (err) {
    kill_all(p);
    reap_all_blocking(p);
    close_fds(p);
    return err;
  }
  p->state = POOL_RUNNING;
  return 0;
}

static void describe_status(pool_t *p, int i, int st) {
  if (WIFSIGNALED(st)) {
    const int sig = WTERMSIG(st);
    const char *name = strsignal(sig);
    snprintf(p->failure, sizeof(p->failure),
             "worker %d (pid %ld) was killed by signal %d (%s)", i + 1,
             (long)p->pid[i], sig, name ? name : "unknown");
  } else if (WIFEXITED(st)) {
    snprintf(p->failure, sizeof(p->failure),
             "worker %d (pid %ld) exited with status %d", i + 1,
             (long)p->pid[i], WEXITSTATUS(st));
  } else {
    snprintf(p->failure, sizeof(p->failure),
             "worker %d (pid %ld) ended abnormally (wait status %d)", i + 1,
             (long)p->pid[i], st);
  }
}

static void fail(pool_t *p) {
  p->state = POOL_FAILED;
  kill_all(p);
  reap_all_blocking(p);
  close_fds(p);
}

/* Reaps children that have exited; returns 1 when one of them failed. */
static int reap_exited(pool_t *p) {
  for (int i = 0; i < p->workers; i++) {
    if (p->reaped[i]) continue;
    int st = 0;
    pid_t r = waitpid(p->pid[i], &st, WNOHANG);
    if (r == 0) continue;
    if (r == -1 && errno == EINTR) continue;
    p->reaped[i] = 1;
    p->alive--;
    if (r == -1) continue; /* someone else reaped it: judged by its marks */
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
      describe_status(p, i, st);
      return 1;
    }
  }
  return 0;
}

pool_state pool_wait(pool_t *p, int timeout_ms) {
  if (p->state != POOL_RUNNING) return p->state;
  struct pollfd pfd[POOL_MAX_WORKERS];
  int idx[POOL_MAX_WORKERS];
  int n = 0;
  for (int i = 0; i < p->workers; i++)
    if (p->fd[i] >= 0) {
      pfd[n].fd = p->fd[i];
      pfd[n].events = POLLIN;
      pfd[n].revents = 0;
      idx[n++] = i;
    }
  if (n > 0) {
    int r = poll(pfd, (nfds_t)n, timeout_ms);
    if (r > 0) {
      for (int j = 0; j < n; j++) {
        if (!(pfd[j].revents & (POLLHUP | POLLIN | POLLERR | POLLNVAL))) continue;
        /* A byte: the child has run out of blocks and is about to exit; its
         * pipe stays open until it has. End of file or an error: it exited. */
        char byte;
        ssize_t got = -1;
        if (pfd[j].revents & POLLIN) {
          while ((got = read(p->fd[idx[j]], &byte, 1)) == -1 && errno == EINTR) {
          }
        }
        if (got != 1) {
          close(p->fd[idx[j]]);
          p->fd[idx[j]] = -1;
        }
      }
    }
    /* r == -1 with EINTR: an interrupt for the caller to handle. */
  }
  /* Every block is done and marked: the results are complete whatever the
   * children do now (they are exiting). pool_release reaps them; the caller
   * reads the results meanwhile. */
  if (__atomic_load_n(&p->counters->completed, __ATOMIC_ACQUIRE) == p->n_blocks) {
    int complete = 1;
    for (int64_t b = 0; b < p->n_blocks && complete; b++)
      complete = __atomic_load_n(&p->done[b], __ATOMIC_ACQUIRE);
    if (complete) {
      p->state = POOL_DONE;
      return p->state;
    }
  }
  /* A closed pipe means the child is exiting; wait for it to be reapable. */
  for (int i = 0; i < p->workers; i++) {
    if (p->reaped[i] || p->fd[i] >= 0) continue;
    int st = 0;
    pid_t r;
    while ((r = waitpid(p->pid[i], &st, 0)) == -1 && errno == EINTR) {
    }
    p->reaped[i] = 1;
    p->alive--;
    if (r == p->pid[i] && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
      describe_status(p, i, st);
      fail(p);
      return p->state;
    }
  }
  if (reap_exited(p)) {
    fail(p);
    return p->state;
  }
  if (p->alive > 0) return POOL_RUNNING;

  close_fds(p);
  int64_t missing = 0, first = -1;
  for (int64_t b = 0; b < p->n_blocks; b++)
    if (!__atomic_load_n(&p->done[b], __ATOMIC_ACQUIRE)) {
      if (first < 0) first = b;
      missing++;
    }
  if (missing) {
    snprintf(p->failure, sizeof(p->failure),
             "workers exited without completing %lld of %lld blocks (first: block %lld)",
             (long long)missing, (long long)p->n_blocks, (long long)first + 1);
    p->state = POOL_FAILED;
    return p->state;
  }
  p->state = POOL_DONE;
  return p->state;
}

int64_t pool_progress(const pool_t *p) {
  if (p->map == MAP_FAILED) return 0;
  return __atomic_load_n(&p->counters->completed, __ATOMIC_ACQUIRE);
}

const char *pool_failure(const pool_t *p) { return p->failure; }

void pool_release(pool_t *p) {
  /* After DONE the children are exiting of their own accord. */
  if (p->state != POOL_DONE) kill_all(p);
  reap_all_blocking(p);
  close_fds(p);
  if (p->map != MAP_FAILED) {
    munmap(p->map, p->map_bytes);
    p->map = MAP_FAILED;
  }
  p->counters = NULL;
  p->done = NULL;
  p->data = NULL;
}

#endif
