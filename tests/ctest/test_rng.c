/* rng: known answers from the published generators, and stream keying. */
#include <stdlib.h>
#include <string.h>

#include "../../src/rng.h"
#include "check.h"

/* SplitMix64 from 1234567: the reference values published with the
 * generator (Vigna's splitmix64.c, also Java's SplittableRandom tests). */
CTEST(test_splitmix64_known_answers) {
  static const uint64_t want[] = {UINT64_C(6457827717110365317), UINT64_C(3203168211198807973),
                                  UINT64_C(9817491932198370423), UINT64_C(4593380528125082431),
                                  UINT64_C(16408922859458223821)};
  uint64_t x = 1234567;
  for (int i = 0; i < 5; i++) CHECK_EQ_U64(rng_splitmix64_next(&x), want[i]);
}

/* xoshiro256++ from the state {0, 0, 0, 1}: outputs of the reference C
 * implementation (xoshiro256plusplus.c). */
CTEST(test_xoshiro256pp_known_answers) {
  static const uint64_t want[] = {UINT64_C(0x0000000000800000), UINT64_C(0x0000000000800011),
                                  UINT64_C(0x0002200000800011), UINT64_C(0x0002200044000020),
                                  UINT64_C(0x00022000448008A1), UINT64_C(0x01102100802208A0),
                                  UINT64_C(0x0114002284200880), UINT64_C(0x0402896644A64095),
                                  UINT64_C(0x8A14A0A244ACC891), UINT64_C(0x8C88BA4680B20495)};
  rng_state st = {{0, 0, 0, 1}};
  for (int i = 0; i < 10; i++) CHECK_EQ_U64(rng_next(&st), want[i]);
}

/* Reference seeding: the four state words are four SplitMix64 outputs. */
CTEST(test_seed_splitmix_fills_state_from_splitmix) {
  const uint64_t seeds[] = {0, 1, 1234567, UINT64_MAX};
  for (int j = 0; j < 4; j++) {
    uint64_t x = seeds[j];
    rng_state st = rng_seed_splitmix(seeds[j]);
    for (int i = 0; i < 4; i++) CHECK_EQ_U64(st.s[i], rng_splitmix64_next(&x));
  }
}

CTEST(test_unif_in_unit_interval) {
  rng_state st = rng_stream(42, 0, 0);
  double lo = 1, hi = 0, sum = 0;
  const int n = 1000000;
  for (int i = 0; i < n; i++) {
    const double u = rng_unif(&st);
    CHECK(u >= 0.0 && u < 1.0, "unif out of [0, 1): %.17g", u);
    if (u < lo) lo = u;
    if (u > hi) hi = u;
    sum += u;
  }
  CHECK(lo < 1e-5 && hi > 1 - 1e-5, "range [%g, %g] too narrow", lo, hi);
  /* mean 1/2, sd of the mean sqrt(1/12/n) ~ 2.9e-4 */
  CHECK(sum / n > 0.5 - 0.0015 && sum / n < 0.5 + 0.0015, "mean %g", sum / n);
  /* The extremes are representable: 0 and 1 - 2^-53. */
  rng_state zero = {{0, 0, 0, 0}};
  CHECK(rng_unif(&zero) == 0.0, "all-zero state gives 0");
}

static int cmp_u64(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Every (seed, group, block) key gives its own stream; equal keys give equal
 * streams. The first two outputs of each of a grid of keys, including
 * permutations of the same three numbers and the draws group, are all
 * distinct. */
CTEST(test_stream_keys_distinct_and_repeatable) {
  const uint64_t seeds[] = {0, 1, 2, 3, 42, UINT64_MAX, (uint64_t)-2, UINT64_C(1) << 53};
  const uint64_t groups[] = {0, 1, 2, 3, 10, UINT64_C(0xffffffff00000000)};
  const int n_blocks = 64;
  const size_t n = sizeof(seeds) / sizeof(seeds[0]) * (sizeof(groups) / sizeof(groups[0])) *
                   (size_t)n_blocks;
  uint64_t *first = malloc(n * sizeof(uint64_t));
  uint64_t *second = malloc(n * sizeof(uint64_t));
  CHECK(first && second, "malloc");
  if (!first || !second) {
    free(first);
    free(second);
    return;
  }
  size_t m = 0;
  for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++)
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
      for (int b = 0; b < n_blocks; b++) {
        rng_state st = rng_stream(seeds[s], groups[g], (uint64_t)b);
        rng_state again = rng_stream(seeds[s], groups[g], (uint64_t)b);
        CHECK(memcmp(&st, &again, sizeof(st)) == 0, "stream not repeatable");
        first[m] = rng_next(&st);
        second[m] = rng_next(&st);
        m++;
      }
  qsort(first, m, sizeof(uint64_t), cmp_u64);
  qsort(second, m, sizeof(uint64_t), cmp_u64);
  int dup = 0;
  for (size_t i = 1; i < m; i++)
    dup += (first[i] == first[i - 1]) + (second[i] == second[i - 1]);
  CHECK(dup == 0, "%d repeated outputs among %zu streams", dup, m);
  free(first);
  free(second);

  /* Permutations of one key are different streams. */
  const uint64_t perm[6][3] = {{1, 2, 3}, {1, 3, 2}, {2, 1, 3},
                               {2, 3, 1}, {3, 1, 2}, {3, 2, 1}};
  uint64_t out[6];
  for (int i = 0; i < 6; i++) {
    rng_state st = rng_stream(perm[i][0], perm[i][1], perm[i][2]);
    out[i] = rng_next(&st);
  }
  for (int i = 0; i < 6; i++)
    for (int j = i + 1; j < 6; j++)
      CHECK(out[i] != out[j], "permutations %d and %d collide", i, j);
}

/* Neighbouring streams are not shifted copies of each other: the first 4096
 * outputs of block 0 and block 1 share no value. */
CTEST(test_stream_neighbours_do_not_overlap) {
  enum { N = 4096 };
  static uint64_t a[N], b[N];
  rng_state sa = rng_stream(7, 0, 0), sb = rng_stream(7, 0, 1);
  for (int i = 0; i < N; i++) {
    a[i] = rng_next(&sa);
    b[i] = rng_next(&sb);
  }
  qsort(a, N, sizeof(uint64_t), cmp_u64);
  qsort(b, N, sizeof(uint64_t), cmp_u64);
  int common = 0;
  for (int i = 0, j = 0; i < N && j < N;) {
    if (a[i] == b[j]) {
      common++;
      i++;
      j++;
    } else if (a[i] < b[j]) {
      i++;
    } else {
      j++;
    }
  }
  CHECK(common == 0, "%d shared outputs", common);
}

/* Bit balance of a keyed stream: each of the 64 output bits is set about
 * half the time over 2^16 outputs (|z| < 6). */
CTEST(test_stream_bit_balance) {
  const int n = 1 << 16;
  int ones[64] = {0};
  rng_state st = rng_stream(0, 0, 0);
  for (int i = 0; i < n; i++) {
    uint64_t r = rng_next(&st);
    for (int b = 0; b < 64; b++) ones[b] += (int)((r >> b) & 1u);
  }
  for (int b = 0; b < 64; b++) {
    const double z = (ones[b] - n / 2.0) / (0.5 * 256.0);
    CHECK(z > -6 && z < 6, "bit %d set %d of %d times (z = %.1f)", b, ones[b], n, z);
  }
}
