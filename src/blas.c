#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT, RTLD_NOLOAD in glibc */
#endif
#include "blas.h"

#include <stddef.h>
#include <string.h>

const char *blas_vendor_name(blas_vendor v) {
  switch (v) {
  case BLAS_OPENBLAS: return "OpenBLAS";
  case BLAS_FLEXIBLAS: return "FlexiBLAS";
  case BLAS_MKL: return "MKL";
  default: return "unknown";
  }
}

#ifdef _WIN32

blas_vendor blas_detect(const char *path) {
  (void)path;
  return BLAS_UNKNOWN;
}
int blas_get_threads(void) { return -1; }
int blas_max_threads(void) { return -1; }
int blas_set_threads(int n) {
  (void)n;
  return -1;
}
const char *blas_config(void) { return NULL; }
const char *blas_corename(void) { return NULL; }

#else

#include <dlfcn.h>

typedef int (*int_void_fn)(void);
typedef void (*void_int_fn)(int);
typedef char *(*str_void_fn)(void);
typedef int (*backend_fn)(char *, size_t);
typedef void (*version_fn)(char *, int);

static struct {
  blas_vendor vendor;
  int_void_fn get_threads;
  int_void_fn num_procs;
  void_int_fn set_threads;
  str_void_fn config;
  str_void_fn corename;
  backend_fn backend; /* FlexiBLAS */
  version_fn version; /* MKL */
} found;

static char text[256];

/* dlsym returns an object pointer; copy it into a function pointer without
 * a cast that ISO C leaves undefined. */
static int lookup(void *handle, const char *name, void *fn, size_t fn_size) {
  void *sym = dlsym(handle, name);
  if (!sym) return 0;
  memcpy(fn, &sym, fn_size);
  return 1;
}
#define LOOKUP(h, name, fn) lookup((h), (name), &(fn), sizeof(fn))

static blas_vendor probe(void *h) {
  memset(&found, 0, sizeof(found));
  if (LOOKUP(h, "flexiblas_get_num_threads", found.get_threads) &&
      LOOKUP(h, "flexiblas_set_num_threads", found.set_threads)) {
    LOOKUP(h, "flexiblas_current_backend", found.backend);
    return found.vendor = BLAS_FLEXIBLAS;
  }
  memset(&found, 0, sizeof(found));
  if ((LOOKUP(h, "MKL_Get_Max_Threads", found.get_threads) ||
       LOOKUP(h, "mkl_get_max_threads", found.get_threads)) &&
      (LOOKUP(h, "MKL_Set_Num_Threads", found.set_threads) ||
       LOOKUP(h, "mkl_set_num_threads", found.set_threads))) {
    if (!LOOKUP(h, "MKL_Get_Version_String", found.version))
      LOOKUP(h, "mkl_get_version_string", found.version);
    return found.vendor = BLAS_MKL;
  }
  memset(&found, 0, sizeof(found));
  if (LOOKUP(h, "openblas_get_num_threads", found.get_threads) &&
      LOOKUP(h, "openblas_set_num_threads", found.set_threads)) {
    LOOKUP(h, "openblas_get_num_procs", found.num_procs);
    LOOKUP(h, "openblas_get_config", found.config);
    LOOKUP(h, "openblas_get_corename", found.corename);
    return found.vendor = BLAS_OPENBLAS;
  }
  memset(&found, 0, sizeof(found));
  return BLAS_UNKNOWN;
}

blas_vendor blas_detect(const char *path) {
  if (found.vendor != BLAS_UNKNOWN) return found.vendor;
#ifdef RTLD_DEFAULT
  if (probe(RTLD_DEFAULT) != BLAS_UNKNOWN) return found.vendor;
#else
  void *self = dlopen(NULL, RTLD_LAZY);
  if (self && probe(self) != BLAS_UNKNOWN) return found.vendor;
#endif
#ifdef RTLD_NOLOAD
  if (path && *path) {
    /* The handle is kept: it only pins a library R has loaded anyway. */
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
    if (h && probe(h) != BLAS_UNKNOWN) return found.vendor;
    if (h) dlclose(h);
  }
#else
  (void)path;
#endif
  return BLAS_UNKNOWN;
}

int blas_get_threads(void) { return found.get_threads ? found.get_threads() : -1; }

int blas_max_threads(void) { return found.num_procs ? found.num_procs() : -1; }

int blas_set_threads(int n) {
  if (!found.set_threads || n < 1) return -1;
  found.set_threads(n);
  return 0;
}

const char *blas_config(void) {
  if (found.config) return found.config();
  if (found.backend && found.backend(text, sizeof(text)) >= 0) {
    text[sizeof(text) - 1] = '\0';
    return text;
  }
  if (found.version) {
    text[0] = '\0';
    found.version(text, (int)sizeof(text));
    text[sizeof(text) - 1] = '\0';
    return text[0] ? text : NULL;
  }
  return NULL;
}

const char *blas_corename(void) { return found.corename ? found.corename() : NULL; }

#endif
