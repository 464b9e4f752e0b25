/*
 * alias: Walker's alias method, built with Vose's O(K) algorithm.
 *
 * A table over K >= 1 categories with non-negative, finite weights (at least
 * one positive) gives a category in O(1) from one 64-bit random word: the
 * high part of word * K picks a column, the low part is compared with the
 * column's 64-bit threshold, and a conditional move picks the column or its
 * alias. Weights are rescaled by their maximum first, so sums that would
 * overflow a double are fine. Zero weights are never drawn.
 *
 * Ownership: the caller supplies the storage (alias_table_bytes(K) bytes,
 * see alias_init) so that tables can live in memory shared with forked
 * workers. alias_build needs a scratch array of K int32_t (alias_build_q
 * also K long double).
 * Pure C: no R headers, no allocation, reentrant.
 */
#ifndef BOOTSCALE_ALIAS_H
#define BOOTSCALE_ALIAS_H

#include <stddef.h>
#include <stdint.h>

#define ALIAS_MAX_K INT32_MAX

typedef struct {
  int64_t k;
  uint64_t *threshold; /* P(keep column i) * 2^64, saturated */
  int32_t *alias;      /* the column's partner */
} alias_table;

typedef enum {
  ALIAS_OK = 0,
  ALIAS_ERR_EMPTY,     /* k < 1 or k > ALIAS_MAX_K */
  ALIAS_ERR_NONFINITE, /* NA, NaN or Inf weight */
  ALIAS_ERR_NEGATIVE,  /* a weight < 0 */
  ALIAS_ERR_ALL_ZERO   /* no positive weight */
} alias_status;

/* Bytes of storage a table over k categories needs. */
size_t alias_table_bytes(int64_t k);
/* Points t's arrays into mem (alias_table_bytes(k) bytes, 8-byte aligned). */
void alias_init(alias_table *t, int64_t k, void *mem);
/* Builds t from w[0..k-1]; work is scratch space for k int32_t. */
alias_status alias_build(alias_table *t, const double *w, int32_t *work);
/* The same table, to the bit, with k long double of scratch q (or NULL):
 * each weight's share is divided out once instead of three times (long
 * double divisions are most of a build's time). */
alias_status alias_build_q(alias_table *t, const double *w, int32_t *work, long double *q);
/* The probabilities the table implies, into out[0..k-1] (for tests). */
void alias_implied_probs(const alias_table *t, double *out);
const char *alias_status_message(alias_status s);

/* A 64-bit word r maps to r * k / 2^64: the integer part is the column,
 * the fraction (the low 64 bits of r * k) decides column or alias. */
static inline int64_t alias_column(uint64_t r, uint64_t k) {
#if defined(__SIZEOF_INT128__)
  return (int64_t)(((unsigned __int128)r * k) >> 64);
#else
  const uint64_t p0 = (r & 0xffffffffu) * k, p1 = (r >> 32) * k;
  const uint64_t mid = (p0 >> 32) + (p1 & 0xffffffffu);
  return (int64_t)((p1 >> 32) + (mid >> 32));
#endif
}

static inline uint64_t alias_fraction(uint64_t r, uint64_t k) {
  return r * k; /* modulo 2^64 */
}

/* One draw: category in [0, k) from one uniform 64-bit word. Takes the
 * table's fields one by one so hot loops can hold them in registers. The
 * select is branch-free: the outcome is a coin flip the predictor cannot
 * learn, and a mispredict costs more than the whole draw. */
static inline int64_t alias_draw_raw(uint64_t k, const uint64_t *threshold,
                                     const int32_t *alias, uint64_t r) {
  const int64_t col = alias_column(r, k);
  const int64_t other = alias[col];
  const int64_t use_alias = -(int64_t)(alias_fraction(r, k) >= threshold[col]);
  return col ^ ((col ^ other) & use_alias);
}

static inline int64_t alias_draw(const alias_table *t, uint64_t r) {
  return alias_draw_raw((uint64_t)t->k, t->threshold, t->alias, r);
}

#endif
