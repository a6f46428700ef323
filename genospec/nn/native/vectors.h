/* What genospec's C kernels share: a generic and an x86-64-v3 (AVX2, FMA) version of each entry
 * loop, picked at load time (CLONES), and 256-bit vectors of 8 float or 4 double lanes (GCC
 * vector extensions) loaded and stored through memcpy, so no alignment is assumed. */
#ifndef GENOSPEC_VECTORS_H
#define GENOSPEC_VECTORS_H

#include <stddef.h>
#include <string.h>

/* GENOSPEC_NO_CLONES: the generic build only, as other compilers and machines get (tests) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(GENOSPEC_NO_CLONES)
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CLONES
#endif
#define INLINE static inline __attribute__((always_inline))

typedef float vf __attribute__((vector_size(32)));  /* 8 float lanes */
typedef double vd __attribute__((vector_size(32))); /* 4 double lanes */
INLINE vf load_f(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
INLINE vd load_d(const double *p) { vd v; memcpy(&v, p, sizeof v); return v; }
INLINE void store_f(float *p, vf v) { memcpy(p, &v, sizeof v); }
INLINE void store_d(double *p, vd v) { memcpy(p, &v, sizeof v); }

/* A kernel's row loop ROW(name, real, vector, load, store, lanes, filter size) made for both
 * precisions and the filter sizes 3, 5 and 7: row3_f, row5_f, row7_f, row3_d, row5_d, row7_d. */
#define EACH_ROW_LOOP(ROW)                          \
  ROW(row3_f, float, vf, load_f, store_f, 8, 3)     \
  ROW(row5_f, float, vf, load_f, store_f, 8, 5)     \
  ROW(row7_f, float, vf, load_f, store_f, 8, 7)     \
  ROW(row3_d, double, vd, load_d, store_d, 4, 3)    \
  ROW(row5_d, double, vd, load_d, store_d, 4, 5)    \
  ROW(row7_d, double, vd, load_d, store_d, 4, 7)

/* Fixed slices' per-channel sums (`blocks` rows of `width` doubles) added in slice order into
 * out: the same bits whichever thread summed which slice. */
INLINE void add_slice_sums(const double *part, long blocks, long width, double *out) {
  for (long e = 0; e < width; e++) {
    double s = 0;
    for (long b = 0; b < blocks; b++) s += part[b * width + e];
    out[e] = s;
  }
}

#endif
