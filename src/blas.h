/*
 * blas: which BLAS this process runs on and how many threads it uses, pure C.
 *
 * The thread controls of OpenBLAS (openblas_get/set_num_threads,
 * openblas_get_config, openblas_get_corename, openblas_get_num_procs),
 * FlexiBLAS (flexiblas_get/set_num_threads, flexiblas_current_backend) and
 * MKL (MKL_Get_Max_Threads, MKL_Set_Num_Threads) are looked up at run time
 * with dlsym(): first in the global scope (RTLD_DEFAULT), where R's BLAS is
 * when R links it at start-up, then in the library at `path` (the BLAS R
 * reports) if it is already loaded (RTLD_NOLOAD: nothing new is ever
 * loaded). Nothing links against a BLAS. Where dlfcn is missing (Windows)
 * every answer is "unknown".
 *
 * Lookups are cached after the first success. Not thread-safe; call from
 * R's main thread only.
 */
#ifndef BOOTSCALE_BLAS_H
#define BOOTSCALE_BLAS_H

typedef enum {
  BLAS_UNKNOWN = 0, /* no known thread control found */
  BLAS_OPENBLAS = 1,
  BLAS_FLEXIBLAS = 2,
  BLAS_MKL = 3
} blas_vendor;

/* Finds the controls; `path` may be NULL. */
blas_vendor blas_detect(const char *path);
const char *blas_vendor_name(blas_vendor v);
/* Threads in use, or -1 when unknown. */
int blas_get_threads(void);
/* The processors the library knows of (OpenBLAS), or -1 when unknown. */
int blas_max_threads(void);
/* Sets the thread count; 0 on success, -1 when it cannot be controlled. */
int blas_set_threads(int n);
/* Build configuration and CPU core name (OpenBLAS), the backend name
 * (FlexiBLAS), the version (MKL); NULL when unknown. The strings belong to
 * the library or to a static buffer. */
const char *blas_config(void);
const char *blas_corename(void);

#endif
