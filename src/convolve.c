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
  int64_t len = 4;
  while (len < support) len <<= 1;
  return len;
}

/* Work space, in doubles, for a real transform of length len: m = len / 2
 * complex values (plus the Nyquist one), the twiddles W^k = e^{-2 pi i k /
 * len} for k < m, and the per-stage twiddles of the length-m complex FFT. */
static int64_t work_doubles(int64_t len) { return 3 * len + 2; }

size_t convolve_work_bytes(int64_t k, int64_t n) {
  const int64_t support = convolve_support(k, n);
  if (support < 0) return 0;
  return (size_t)work_doubles(fft_length(support)) * sizeof(double);
}

/* w[2k], w[2k+1] = cos, -sin of 2 pi k / len for k < len / 2. Only the first
 * eighth calls sincos, each from its own argument (a recurrence would carry
 * rounding along); the rest are exact reflections of it. */
static void make_twiddles(double *w, int64_t len) {
  const double step = 6.283185307179586476925286766559 / (double)len;
  const int64_t q = len / 4, e = len / 8;
  for (int64_t k = 0; k < len / 2; k++) {
    if (k <= e) {
      w[2 * k] = cos(step * (double)k);
      w[2 * k + 1] = -sin(step * (double)k);
    } else if (k <= q) { /* angle pi/2 - phi */
      w[2 * k] = -w[2 * (q - k) + 1];
      w[2 * k + 1] = -w[2 * (q - k)];
    } else { /* angle pi/2 + phi */
      w[2 * k] = w[2 * (k - q) + 1];
      w[2 * k + 1] = -w[2 * (k - q)];
    }
  }
}

/* Stage twiddles of a length-m complex FFT (m = len / 2) laid out so that the
 * stage of half-width h reads st[h + j] = e^{-i pi j / h}, j < h, in order. */
static void make_stage_twiddles(double *st, const double *w, int64_t m) {
  for (int64_t h = 1; h < m; h <<= 1) {
    const int64_t stride = m / h; /* W^{j len / (2h)} = w[j * 2m / (2h)] */
    for (int64_t j = 0; j < h; j++) {
      st[2 * (h + j)] = w[2 * j * stride];
      st[2 * (h + j) + 1] = w[2 * j * stride + 1];
    }
  }
}

/* In-place iterative radix-2 FFT of m (a power of 2) interleaved complex
 * values; sign = -1 forward, +1 backward (conjugate twiddles); unscaled. */
static void fft(double *z, int64_t m, const double *st, int sign) {
  for (int64_t i = 1, j = 0; i < m; i++) {
    int64_t bit = m >> 1;
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
  for (int64_t h = 1; h < m; h <<= 1) {
    const double *tw = st + 2 * h;
    for (int64_t i = 0; i < m; i += 2 * h) {
      double *a = z + 2 * i, *b = z + 2 * (i + h);
      for (int64_t j = 0; j < h; j++) {
        const double wr = tw[2 * j], wi = s * tw[2 * j + 1];
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

/* A real sequence x of length len = 2m, packed as z_j = x_{2j} + i x_{2j+1}
 * and transformed (length m), becomes its spectrum X_0..X_m in place
 * (z needs m + 1 complex slots): with E, O the spectra of the even and odd
 * samples, E_k = (Z_k + conj Z_{m-k}) / 2, O_k = (Z_k - conj Z_{m-k}) / 2i
 * and X_k = E_k + W^k O_k. */
static void real_unpack(double *z, int64_t m, const double *w) {
  const double r0 = z[0], i0 = z[1];
  z[0] = r0 + i0;
  z[1] = 0.0;
  z[2 * m] = r0 - i0;
  z[2 * m + 1] = 0.0;
  for (int64_t k = 1; k <= m / 2; k++) {
    const int64_t l = m - k;
    const double ar = z[2 * k], ai = z[2 * k + 1], br = z[2 * l], bi = z[2 * l + 1];
    /* E_k, O_k from (a, b) and E_l, O_l from (b, a): E_l = conj E_k, O_l = -conj O_k */
    const double er = 0.5 * (ar + br), ei = 0.5 * (ai - bi);
    const double or_ = 0.5 * (ai + bi), oi = -0.5 * (ar - br);
    const double wr = w[2 * k], wi = w[2 * k + 1];
    const double tr = wr * or_ - wi * oi, ti = wr * oi + wi * or_;
    z[2 * k] = er + tr;
    z[2 * k + 1] = ei + ti;
    /* X_l = conj E_k + W^l (-conj O_k), with W^l = -conj W^k */
    z[2 * l] = er - tr;
    z[2 * l + 1] = -ei + ti;
  }
}

/* The inverse of real_unpack: from X_0..X_m (Hermitian spectrum of a real
 * sequence) back to Z_0..Z_{m-1}, Z_k = E_k + i O_k with E_k = (X_k + conj
 * X_{m-k}) / 2 and O_k = (X_k - conj X_{m-k}) conj(W^k) / 2. */
static void real_pack(double *z, int64_t m, const double *w) {
  const double x0 = z[0], xm = z[2 * m];
  z[0] = 0.5 * (x0 + xm);
  z[1] = 0.5 * (x0 - xm);
  for (int64_t k = 1; k <= m / 2; k++) {
    const int64_t l = m - k;
    const double ar = z[2 * k], ai = z[2 * k + 1], br = z[2 * l], bi = z[2 * l + 1];
    const double er = 0.5 * (ar + br), ei = 0.5 * (ai - bi);
    const double dr = 0.5 * (ar - br), di = 0.5 * (ai + bi);
    const double wr = w[2 * k], wi = -w[2 * k + 1]; /* conj W^k */
    const double or_ = dr * wr - di * wi, oi = dr * wi + di * wr;
    z[2 * k] = er - oi; /* E + i O */
    z[2 * k + 1] = ei + or_;
    /* E_l = conj E_k, O_l = conj O_k (the two conjugations of W cancel) */
    z[2 * l] = er + oi;
    z[2 * l + 1] = -ei + or_;
  }
}

convolve_status convolve_power(const double *p, int64_t k, int64_t n, double *out,
                               void *work) {
  if (k < 1 || n < 1) return CONVOLVE_ERR_EMPTY;
  const int64_t support = convolve_support(k, n);
  if (support < 0) return CONVOLVE_ERR_TOO_LARGE;
  long double total = 0.0L;
  int64_t top = 0;
  for (int64_t i = 0; i < k; i++) {
    if (!isfinite(p[i])) return CONVOLVE_ERR_NONFINITE;
    if (p[i] < 0) return CONVOLVE_ERR_NEGATIVE;
    total += p[i];
    if (p[i] > p[top]) top = i;
  }
  if (!(total > 0.0L)) return CONVOLVE_ERR_ALL_ZERO;
  if (n == 1 || k == 1) {
    for (int64_t i = 0; i < k; i++) out[i] = (double)(p[i] / total);
    if (k == 1) out[0] = 1.0;
    return CONVOLVE_OK;
  }

  /* With `top` the most probable point, the transform of p at angle t is
   * P(t) = p_top e^{-i t top} (1 + R(t)), R the transform of r_d =
   * p_{top+d} / p_top (d != 0, indices mod len). Then P^n = exp(n (log p_top
   * + log(1 + R))) e^{-i t n top}, the last factor read exactly from the
   * twiddle table. Rounding in the FFT is relative to the size of r, not to
   * 1: when one point dominates, |P| is near 1 everywhere and a plain P^n
   * would carry n times the FFT's rounding (3e-12 at n = 1000). */
  const int64_t len = fft_length(support), m = len / 2;
  double *z = (double *)work, *w = z + 2 * (m + 1), *st = w + len;
  make_twiddles(w, len);
  make_stage_twiddles(st, w, m);
  memset(z, 0, (size_t)(m + 1) * 2 * sizeof(double));
  const double ptop = p[top];
  for (int64_t i = 0; i < k; i++) {
    if (i == top) continue;
    const int64_t d = (i - top + len) % len;
    z[d] = p[i] / ptop; /* real sample d sits at z[d] in the packed layout */
  }
  fft(z, m, st, -1);
  real_unpack(z, m, w);

  const double log_ptop = (double)logl((long double)ptop / total);
  const double dn = (double)n;
  /* |P|^n underflows to 0 when |1 + R|^2 - 1 <= tiny: decided without a log */
  const double tiny = expm1(2.0 * (-745.0 / dn - log_ptop));
  /* t = (n * top * j) mod len, stepped without overflow (len <= 2^27) */
  const int64_t step = ((n % len) * (top % len)) % len;
  int64_t t = 0;
  for (int64_t j = 0; j <= m; j++, t = t + step >= len ? t + step - len : t + step) {
    const double rr = z[2 * j], ri = z[2 * j + 1];
    double re = 0.0, im = 0.0;
    const double mod2m1 = 2.0 * rr + rr * rr + ri * ri; /* |1 + R|^2 - 1 */
    if (mod2m1 > tiny && mod2m1 > -1.0) {
      const double e = dn * (log_ptop + 0.5 * log1p(mod2m1));
      if (e > -745.0) { /* else exp(e) is 0 in double */
        const double mag = exp(e), ang = dn * atan2(ri, 1.0 + rr);
        const double cr = mag * cos(ang), ci = mag * sin(ang);
        const double sg = t < m ? 1.0 : -1.0;
        const double wr = sg * w[2 * (t % m)], wi = sg * w[2 * (t % m) + 1];
        re = cr * wr - ci * wi;
        im = cr * wi + ci * wr;
      }
    }
    z[2 * j] = re;
    z[2 * j + 1] = im;
  }
  z[1] = 0.0; /* coefficient 0 and the Nyquist one of a real sequence are real */
  z[2 * m + 1] = 0.0;
  real_pack(z, m, w);
  fft(z, m, st, +1);

  /* Rounding leaves values near +-1e-16 where the probability is tiny or
   * zero: the negative ones become 0, then everything is rescaled. */
  long double sum = 0.0L;
  const double scale = 1.0 / (double)m; /* a power of 2: exact */
  for (int64_t i = 0; i < support; i++) {
    const double v = z[i] * scale;
    out[i] = v > 0.0 ? v : 0.0;
    sum += out[i];
  }
  const double inv = (double)(1.0L / sum);
  for (int64_t i = 0; i < support; i++) out[i] *= inv;
  return CONVOLVE_OK;
}

int convolve_lattice_pmf(const double *pos, const double *w, int64_t m, int64_t k, double *p) {
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
