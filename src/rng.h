/*
 * rng: random streams for bootscale.
 *
 * Generator: xoshiro256++ (Blackman & Vigna, 2021), 256 bits of state,
 * period 2^256 - 1. A stream is keyed by (seed, group, block): the key is
 * hashed with the SplitMix64 finalizer and SplitMix64 then fills the four
 * state words. Any stream is reached directly, without stepping through
 * others, so a block's numbers never depend on which worker runs it.
 *
 * Pure C: no R headers, no allocation. The state lives on the caller's
 * stack; functions are reentrant and fork-safe.
 */
#ifndef BOOTSCALE_RNG_H
#define BOOTSCALE_RNG_H

#include <stdint.h>

typedef struct {
  uint64_t s[4];
} rng_state;

/* One SplitMix64 step: advances *x and returns the next output. */
uint64_t rng_splitmix64_next(uint64_t *x);

/* xoshiro256++ seeded from SplitMix64 started at `seed` (reference seeding). */
rng_state rng_seed_splitmix(uint64_t seed);

/* The stream for (seed, group, block). Returned by value so that callers
 * keep the state in registers in their hot loops. */
rng_state rng_stream(uint64_t seed, uint64_t group, uint64_t block);

static inline uint64_t rng_rotl(const uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256++: next 64-bit output. */
static inline uint64_t rng_next(rng_state *st) {
  uint64_t *s = st->s;
  const uint64_t result = rng_rotl(s[0] + s[3], 23) + s[0];
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rng_rotl(s[3], 45);
  return result;
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double rng_unif(rng_state *st) {
  return (double)(rng_next(st) >> 11) * 0x1.0p-53;
}

#define RNG_NAME "xoshiro256++ keyed by SplitMix64"

#endif
