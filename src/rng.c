#include "rng.h"

#define SM64_GAMMA UINT64_C(0x9e3779b97f4a7c15)

static uint64_t sm64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

uint64_t rng_splitmix64_next(uint64_t *x) {
  *x += SM64_GAMMA;
  return sm64_mix(*x);
}

rng_state rng_seed_splitmix(uint64_t seed) {
  rng_state st;
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) st.s[i] = rng_splitmix64_next(&x);
  /* The all-zero state is the one state xoshiro cannot leave. SplitMix64
   * never yields four zeros in a row, but keep the guard explicit. */
  if ((st.s[0] | st.s[1] | st.s[2] | st.s[3]) == 0) st.s[0] = SM64_GAMMA;
  return st;
}

rng_state rng_stream(uint64_t seed, uint64_t group, uint64_t block) {
  /* Chain the finalizer over the three key words; distinct gammas keep
   * (seed, group, block) and its permutations apart. */
  uint64_t k = sm64_mix(seed + SM64_GAMMA);
  k = sm64_mix(k ^ (group + UINT64_C(0xd1b54a32d192ed03)));
  k = sm64_mix(k ^ (block + UINT64_C(0x8cb92ba72f3d8dd7)));
  return rng_seed_splitmix(k);
}
