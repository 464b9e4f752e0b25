#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MAP_ANONYMOUS, sigprocmask under strict C */
#endif
#include "memory.h"
#include "pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Called through a volatile pointer so that the compiler cannot drop a
 * write whose memory is freed right after: the pages must be touched. */
static void *(*volatile touch_memset)(void *, int, size_t) = memset;

int memory_touch(size_t bytes) {
  if (bytes == 0) return 0;
  void *p = malloc(bytes);
  if (!p) return ENOMEM;
  touch_memset(p, 1, bytes);
  free(p);
  return 0;
}

#ifdef _WIN32

double memory_rss(void) { return -1; }
double memory_peak(void) { return -1; }
int memory_reset_peak(void) { return ENOSYS; }
double memory_children_peak(void) { return -1; }
double memory_physical(void) { return -1; }
double memory_as_limit(void) { return -1; }
int memory_fork_touch(size_t bytes) {
  (void)bytes;
  return ENOSYS;
}

#else

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif

/* ru_maxrss is in kilobytes everywhere but macOS, where it is in bytes. */
static double maxrss_bytes(long maxrss) {
#ifdef __APPLE__
  return (double)maxrss;
#else
  return (double)maxrss * 1024.0;
#endif
}

#ifdef __linux__
/* The value of a "Name:   123 kB" line of /proc/self/status, in bytes. */
static double proc_status_bytes(const char *name) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  const size_t len = strlen(name);
  char line[256];
  double out = -1;
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, name, len) == 0 && line[len] == ':') {
      char *end = NULL;
      const double kb = strtod(line + len + 1, &end);
      if (end != line + len + 1) out = kb * 1024.0;
      break;
    }
  }
  fclose(f);
  return out;
}
#endif

double memory_rss(void) {
#ifdef __linux__
  return proc_status_bytes("VmRSS");
#else
  return -1;
#endif
}

double memory_peak(void) {
#ifdef __linux__
  const double hwm = proc_status_bytes("VmHWM");
  if (hwm >= 0) return hwm;
#endif
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  return maxrss_bytes(ru.ru_maxrss);
}

int memory_reset_peak(void) {
#ifdef __linux__
  int fd;
  do {
    fd = open("/proc/self/clear_refs", O_WRONLY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno ? errno : EACCES;
  ssize_t n;
  do {
    n = write(fd, "5", 1);
  } while (n < 0 && errno == EINTR);
  const int err = n == 1 ? 0 : (errno ? errno : EIO);
  close(fd);
  return err;
#else
  return ENOSYS;
#endif
}

double memory_children_peak(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_CHILDREN, &ru) != 0) return -1;
  return maxrss_bytes(ru.ru_maxrss);
}

int memory_fork_touch(size_t bytes) {
  /* Signals stay blocked in the child, so R's handlers never run there. */
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  const pid_t pid = fork();
  if (pid == 0) {
    if (bytes) {
      void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) pool_child_exit(2);
      touch_memset(p, 1, bytes);
    }
    pool_child_exit(0);
  }
  const int fork_errno = errno;
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (pid < 0) return fork_errno ? fork_errno : EAGAIN;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errno;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

double memory_physical(void) {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && size > 0) return (double)pages * (double)size;
#endif
  return -1;
}

double memory_as_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    return (double)rl.rlim_cur;
  return -1;
}

#endif

void memory_hint_huge(void *p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = (uintptr_t)2 << 20;
  if (bytes < 2 * huge) return;
  const uintptr_t from = ((uintptr_t)p + huge - 1) & ~(huge - 1);
  const uintptr_t to = ((uintptr_t)p + bytes) & ~(huge - 1);
  if (to > from) madvise((void *)from, to - from, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

/* Below this, arenas come from calloc(): malloc hands the last job's
 * memory to the next one without page faults (about 2 us each on a VM,
 * 0.2 ms for the chapter's tables); above it, a mapping of their own with
 * huge pages hinted. */
#define ARENA_MAPPED_MIN ((size_t)4 << 20)

void *memory_arena_alloc(size_t bytes) {
#ifndef _WIN32
  if (bytes >= ARENA_MAPPED_MIN) {
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    memory_hint_huge(m, bytes);
    return m;
  }
#endif
  return calloc(1, bytes);
}

const char *memory_arena_call(size_t bytes) {
#ifndef _WIN32
  if (bytes >= ARENA_MAPPED_MIN) return "mmap()";
#endif
  (void)bytes;
  return "calloc()";
}

void memory_arena_free(void *p, size_t bytes) {
  if (!p) return;
#ifndef _WIN32
  if (bytes >= ARENA_MAPPED_MIN) {
    munmap(p, bytes);
    return;
  }
#endif
  (void)bytes;
  free(p);
}
