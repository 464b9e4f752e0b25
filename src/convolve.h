/*
 * convolve: the exact bootstrap distribution of a sum of draws on a lattice.
 *
 * Given probabilities p[0..k-1] of the lattice points 0..k-1, convolve_power
 * computes the distribution of the sum of n independent draws, on the points
 * 0..n(k-1): the n-fold convolution of p. It transforms p once with a real
 * radix-2 FFT of length N, the power of 2 >= n(k-1)+1 (so nothing wraps
 * around), raises each coefficient to the n-th power in polar form after
 * factoring out the most probable point, and transforms back: O(N log N),
 * about n k log(n k). Absolute errors stay near 1e-14 (tested to 1e-12
 * against a long-double direct convolution up to n = 1000 and binomial
 * probabilities up to n = 100000); rounding's negative values are set to 0
 * and the result is rescaled to sum to 1. n = 1 or k = 1 are exact.
 *
 * Ownership: the caller supplies out (support length doubles) and work
 * (convolve_work_bytes); nothing is allocated. Pure C: no R headers,
 * reentrant.
 */
#ifndef BOOTSCALE_CONVOLVE_H
#define BOOTSCALE_CONVOLVE_H

#include <stddef.h>
#include <stdint.h>

/* The largest support accepted; past it the caller is refused before
 * anything is allocated. The real FFT then has length at most 2^26: 1.5 GiB
 * of work space with its twiddles. */
#define CONVOLVE_MAX_SUPPORT INT64_C(50000000)

typedef enum {
  CONVOLVE_OK = 0,
  CONVOLVE_ERR_EMPTY,     /* k < 1 or n < 1 */
  CONVOLVE_ERR_NONFINITE, /* NA, NaN or Inf probability */
  CONVOLVE_ERR_NEGATIVE,  /* a probability < 0 */
  CONVOLVE_ERR_ALL_ZERO,  /* no positive probability */
  CONVOLVE_ERR_TOO_LARGE  /* n(k-1)+1 > CONVOLVE_MAX_SUPPORT */
} convolve_status;

/* Points of the result, n(k-1)+1, or -1 when k < 1, n < 1 or the support
 * exceeds CONVOLVE_MAX_SUPPORT (computed without overflow). */
int64_t convolve_support(int64_t k, int64_t n);
/* Bytes of work space convolve_power needs (0 when the support is invalid). */
size_t convolve_work_bytes(int64_t k, int64_t n);
/* out[0..n(k-1)] = the n-fold convolution of p / sum(p). work: at least
 * convolve_work_bytes(k, n) bytes, 8-byte aligned. */
convolve_status convolve_power(const double *p, int64_t k, int64_t n, double *out, void *work);
/* Probabilities of lattice points from m values at integer positions pos[i]
 * in 0..k-1 with weights w[i]: p[pos] accumulates w (p has k doubles). Returns
 * 0, or -1 when a position is outside 0..k-1 or not a whole number. */
int convolve_lattice_pmf(const double *pos, const double *w, int64_t m, int64_t k, double *p);
const char *convolve_status_message(convolve_status s);

#endif
