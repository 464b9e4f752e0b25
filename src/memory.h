/*
 * memory: resident memory of this process and of its children, the
 * machine's physical memory and the address-space limit; pure C.
 *
 * Sizes are in bytes as doubles; -1 means "not known on this platform".
 *  - memory_rss: resident set now (Linux VmRSS).
 *  - memory_peak: peak resident set (Linux VmHWM, else getrusage ru_maxrss).
 *  - memory_reset_peak: Linux only, writes "5" to /proc/self/clear_refs,
 *    which resets VmHWM to the current resident set. Returns 0 or an errno
 *    value (ENOSYS elsewhere).
 *  - memory_children_peak: getrusage(RUSAGE_CHILDREN) ru_maxrss, the largest
 *    peak of any descendant that was waited for, over the life of the
 *    process. It never goes down.
 *  - memory_physical: physical memory (sysconf).
 *  - memory_as_limit: the address-space limit RLIMIT_AS; -1 when unlimited.
 *  - memory_touch: mallocs `bytes`, writes every byte, frees it; 0 or ENOMEM.
 *  - memory_fork_touch: forks a child that maps and writes `bytes` then
 *    exits; the parent waits for it. Returns 0, an errno value, or -1 when
 *    the child failed. The child calls neither malloc nor stdio.
 * The last two are test helpers: they make peaks of known size.
 *  - memory_hint_huge: asks for transparent huge pages (MADV_HUGEPAGE) on
 *    the 2 MiB-aligned part of [p, p + bytes), when it is at least 4 MiB
 *    and not yet touched: far fewer page faults where THP is on "madvise"
 *    (or "always"). A hint only; nothing elsewhere.
 *  - memory_arena_alloc: zeroed memory for a job's arena and its runs in
 *    this process: calloc() below 4 MiB (malloc then reuses the last job's
 *    pages) and where there is no mmap, else a private anonymous mapping
 *    with huge pages hinted; NULL when it cannot be had.
 *    memory_arena_free needs the same size; memory_arena_call names the
 *    call made for a size ("calloc()", "mmap()").
 * Nothing here is thread-safe or keeps state.
 */
#ifndef BOOTSCALE_MEMORY_H
#define BOOTSCALE_MEMORY_H

#include <stddef.h>

double memory_rss(void);
double memory_peak(void);
int memory_reset_peak(void);
double memory_children_peak(void);
double memory_physical(void);
double memory_as_limit(void);
int memory_touch(size_t bytes);
int memory_fork_touch(size_t bytes);
void memory_hint_huge(void *p, size_t bytes);
void *memory_arena_alloc(size_t bytes);
void memory_arena_free(void *p, size_t bytes);
const char *memory_arena_call(size_t bytes);

#endif
