#include "convolve.h"

#include <math.h>
#include <string.h>

int64_t convolve_support(int64_t k, int64_t n) {
  if (k < 1 || n < 1) return -1;
  if (k == 1) return 1;
  /* n(k-1)+1 <= max without computing a product that may overflow */
  if (k - 1 > (CONVOLVE_MAX_SUPPORT - 1) / n) return -1;
  return n * (k - 1) + 1;
}

static int64_t fft_length(int64_t support) {
  int64_t len = 1;
  while (len < support) len <<= 1;
  return len;
}

size_t convolve_work_bytes(int64_t k, int64_t n) {
  const int64_t support = convolve_support(k, n);
  if (support < 0) return 0;
  /* data (len complex) and twiddles (len / 2 complex) */
  return (size_t)fft_length(support) * 3 * sizeof(double);
}

/* tw[2j], tw[2j+1] = cos, -sin of 2 pi j / len, j < len / 2, each from its
 * own argument: a recurrence would carry rounding from one to the next. */
static void fft_twiddles(double *tw, int64_t len) {
  const double step = 6.283185307179586476925286766559 / (double)len;
  for (int64_t j = 0; j < len / 2; j++) {
    tw[2 * j] = cos(step * (double)j);
    tw[2 * j + 1] = -sin(step * (double)j);
  }
}

/* In-place iterative radix-2 FFT of len (a power of 2) interleaved complex
 * values; sign = -1 forward (twiddles as made), +1 backward (conjugated),
 * unscaled. */
static void fft(double *z, int64_t len, const double *tw, int sign) {
  for (int64_t i = 1, j = 0; i < len; i++) {
    int64_t bit = len >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      double t = z[2 * i];
      z[2 * i] = z[2 * j];
      z[2 * j] = t;
      t = z[2 * i + 1];
      z[2 * i + 1] = z[2 * j + 1];
      z[2 * j + 1] = t;
    }
  }
  const double s = sign < 0 ? 1.0 : -1.0;
  for (int64_t half = 1; half < len; half <<= 1) {
    const int64_t stride = len / (2 * half);
    for (int64_t i = 0; i < len; i += 2 * half) {
      double *a = z + 2 * i, *b = z + 2 * (i + half);
      for (int64_t j = 0; j < half; j++) {
        const double wr = tw[2 * j * stride], wi = s * tw[2 * j * stride + 1];
        const double vr = b[2 * j] * wr - b[2 * j + 1] * wi;
        const double vi = b[2 * j] * wi + b[2 * j + 1] * wr;
        const double ur = a[2 * j], ui = a[2 * j + 1];
        a[2 * j] = ur + vr;
        a[2 * j + 1] = ui + vi;
        b[2 * j] = ur - vr;
        b[2 * j + 1] = ui - vi;
      }
    }
  }
}

/* (n * m * j) mod len without overflow: len <= 2^26, so each product of two
 * residues fits in 63 bits. */
static int64_t phase_index(int64_t n, int64_t m, int64_t j, int64_t len) {
  const int64_t nm = ((n % len) * (m % len)) % len;
  return (nm * j) % len;
}

convolve_status convolve_power(const double *p, int64_t k, int64_t n, double *out,
                               void *work) {
  if (k < 1 || n < 1) return CONVOLVE_ERR_EMPTY;
  const int64_t support = convolve_support(k, n);
  if (support < 0) return CONVOLVE_ERR_TOO_LARGE;
  long double total = 0.0L;
  int64_t m = 0;
  for (int64_t i = 0; i < k; i++) {
    if (!isfinite(p[i])) return CONVOLVE_ERR_NONFINITE;
    if (p[i] < 0) return CONVOLVE_ERR_NEGATIVE;
    total += p[i];
    if (p[i] > p[m]) m = i;
  }
  if (!(total > 0.0L)) return CONVOLVE_ERR_ALL_ZERO;
  if (n == 1 || k == 1) {
    for (int64_t i = 0; i < k; i++) out[i] = (double)(p[i] / total);
    if (k == 1) out[0] = 1.0;
    return CONVOLVE_OK;
  }

  /* With m the most probable point, the transform of p at angle t is
   * P(t) = p_m e^{-i t m} (1 + R(t)), R the transform of r_d = p_{m+d} / p_m
   * (d != 0, indices mod len). Then P^n = exp(n (log p_m + log(1 + R)))
   * e^{-i t n m}, with the last factor taken exactly from the twiddle table.
   * Rounding in the FFT is relative to the size of r, not to 1: when one
   * point dominates, |P| is near 1 everywhere and a plain P^n would carry
   * n times the FFT's rounding (3e-12 at n = 1000). */
  const int64_t len = fft_length(support);
  double *z = (double *)work, *tw = z + 2 * len;
  fft_twiddles(tw, len);
  memset(z, 0, (size_t)len * 2 * sizeof(double));
  const double pm = p[m];
  for (int64_t i = 0; i < k; i++) {
    if (i == m) continue;
    const int64_t d = (i - m + len) % len;
    z[2 * d] = p[i] / pm;
  }
  fft(z, len, tw, -1);
  const double log_pm = (double)logl((long double)pm / total);
  const double dn = (double)n;
  /* The input is real, so coefficient len - j is the conjugate of j: work
   * out the first half and mirror it. */
  for (int64_t j = 0; j <= len / 2; j++) {
    const double rr = z[2 * j], ri = z[2 * j + 1];
    double re = 0.0, im = 0.0;
    const double mod2m1 = 2.0 * rr + rr * rr + ri * ri; /* |1 + R|^2 - 1 */
    if (mod2m1 > -1.0) {
      const double e = dn * (log_pm + 0.5 * log1p(mod2m1));
      if (e > -745.0) { /* else exp(e) is 0 in double */
        const double mag = exp(e), ang = dn * atan2(ri, 1.0 + rr);
        const double cr = mag * cos(ang), ci = mag * sin(ang);
        const int64_t t = phase_index(n, m, j, len);
        const double sg = t < len / 2 ? 1.0 : -1.0;
        const double wr = sg * tw[2 * (t % (len / 2))], wi = sg * tw[2 * (t % (len / 2)) + 1];
        re = cr * wr - ci * wi;
        im = cr * wi + ci * wr;
      }
    }
    z[2 * j] = re;
    z[2 * j + 1] = im;
    if (j > 0 && j < len / 2) {
      z[2 * (len - j)] = re;
      z[2 * (len - j) + 1] = -im;
    }
  }
  z[1] = 0.0;           /* coefficient 0 and the Nyquist one are real */
  z[len + 1] = 0.0;
  fft(z, len, tw, +1);

  /* Rounding leaves values near +-1e-16 where the probability is tiny or
   * zero: the negative ones become 0, then everything is rescaled. */
  long double sum = 0.0L;
  for (int64_t i = 0; i < support; i++) {
    const double v = z[2 * i] / (double)len;
    out[i] = v > 0.0 ? v : 0.0;
    sum += out[i];
  }
  for (int64_t i = 0; i < support; i++) out[i] = (double)(out[i] / sum);
  return CONVOLVE_OK;
}

int convolve_lattice_pmf(const double *pos, const double *w, int64_t m, int64_t k,
                         double *p) {
  for (int64_t i = 0; i < k; i++) p[i] = 0.0;
  for (int64_t i = 0; i < m; i++) {
    const double q = pos[i];
    if (!(q >= 0.0 && q < (double)k) || q != floor(q)) return -1;
    p[(int64_t)q] += w[i];
  }
  return 0;
}

const char *convolve_status_message(convolve_status s) {
  switch (s) {
  case CONVOLVE_OK: return "ok";
  case CONVOLVE_ERR_EMPTY: return "the distribution and the sample size must not be empty";
  case CONVOLVE_ERR_NONFINITE: return "probabilities must be finite";
  case CONVOLVE_ERR_NEGATIVE: return "probabilities must be non-negative";
  case CONVOLVE_ERR_ALL_ZERO: return "at least one probability must be positive";
  case CONVOLVE_ERR_TOO_LARGE: return "the support of the distribution is too large";
  }
  return "unknown status";
}
