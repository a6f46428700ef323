/* The backward of a 1x1 convolution followed by a training-mode BatchNorm, run from BatchNorm's
 * output, in two passes over channels-last memory.
 *
 * Forward (genospec/nn/recompute.py): p = d W^T (rows of [N*H*W, Ci] times the [Co, Ci] filter),
 * then y = gamma * xhat + beta with xhat = (p - mean) * invstd per channel. gamma and beta here
 * stand for what the caller has: an affine BatchNorm's own, a mixing weight applied as the
 * scale (beta 0), or 1 and 0. Given the output gradient g, with n rows and per channel
 *
 *   S1 = sum(g),  S2 = sum(g * (y - beta))          (so sum(g * xhat) = S2 / gamma)
 *
 * BatchNorm's input gradient is the row-wise affine map
 *
 *   gp = k1 * g + k2 * y + k3,  k1 = gamma * invstd,  k2 = -invstd * S2 / (gamma * n),
 *                               k3 = -gamma * invstd * S1 / n - k2 * beta,
 *
 * and the convolution's gradients are gd = gp W (input, [rows, Ci]) and gW = gp^T d ([Co, Ci]).
 * Pass one reads g and y for S1 and S2; pass two reads g, y and d once more and writes gd,
 * computing each row's gp in registers: PyTorch's three calls (BatchNorm's backward, two matrix
 * products) write gp and read it twice. With `relu_d` the kernel reads relu(d) (NaN read as 0),
 * so that a block whose 1x1 convolution follows its ReLU needs no copy of relu(d); with
 * `mask_gd` as well, gd is the gradient of d itself (0 where d is not above 0), so that no
 * separate pass applies the ReLU's backward. gamma NULL stands for the 0-d `scale` (NULL: 1),
 * shift NULL for 0. Where asked, the kernel also writes gamma's and shift's gradients per channel,
 * sum(g * xhat) = S2 / gamma and S1 (with a scale, the scale's gradient is the sum of the first).
 *
 * Determinism: the rows are cut into `blocks` fixed slices (the caller picks their count from
 * the sizes alone); each slice's sums and its part of gW are computed by one thread in row
 * order, and the slices are added in order, so the result is the same bits for any thread count.
 */
#include <stdlib.h>

#include "vectors.h"

#define MAX_CHANS 1024 /* the per-row scratch lives on the stack */
#define GROUP 4        /* rows sharing each load of W and of a gW row */

typedef struct {
  const void *g, *y, *d, *w, *gamma, *shift, *scale, *invstd;
  void *gd, *gw_part, *coef; /* gw_part and coef: the call's scratch */
  double *sum_part;
  long rows, co, ci, blocks, relu_d, mask_gd, want_gd, want_gw;
} job_t;

/* Pass one over rows [m0, m1): S1 and S2 of the slice, accumulated in T per channel. */
#define SUMS(NAME, T, V, LOAD, STORE, LANES)                                                      \
  CLONES static void NAME(const job_t *a, long m0, long m1, double *out) {                        \
    const T *g = a->g, *y = a->y;                                                                 \
    long C = a->co;                                                                               \
    T s1[MAX_CHANS], s2[MAX_CHANS], shift[MAX_CHANS];                                             \
    for (long o = 0; o < C; o++) {                                                                \
      s1[o] = s2[o] = 0;                                                                          \
      shift[o] = a->shift ? ((const T *)a->shift)[o] : 0;                                         \
    }                                                                                             \
    for (long r = m0; r < m1; r++) {                                                              \
      const T *gr = g + r * C, *yr = y + r * C;                                                   \
      long o = 0;                                                                                 \
      for (; o + LANES <= C; o += LANES) {                                                        \
        V gv = LOAD(gr + o);                                                                      \
        STORE(s1 + o, LOAD(s1 + o) + gv);                                                         \
        STORE(s2 + o, LOAD(s2 + o) + gv * (LOAD(yr + o) - LOAD(shift + o)));                      \
      }                                                                                           \
      for (; o < C; o++) {                                                                        \
        s1[o] += gr[o];                                                                           \
        s2[o] += gr[o] * (yr[o] - shift[o]);                                                      \
      }                                                                                           \
    }                                                                                             \
    for (long o = 0; o < C; o++) {                                                                \
      out[o] = s1[o];                                                                             \
      out[C + o] = s2[o];                                                                         \
    }                                                                                             \
  }

/* d's value as the kernel reads it: relu(d) with `relu` (a vector compare selects the lanes
 * above 0; NaN compares false). */
#define READ_D(T, V, LOAD, IV)                                                                    \
  INLINE V read_d_##T(const T *p, int relu) {                                                     \
    V v = LOAD(p);                                                                                \
    if (!relu) return v;                                                                          \
    V zero = (V){0};                                                                              \
    return (V)((IV)v & (IV)(v > zero));                                                           \
  }                                                                                               \
  INLINE T read_d1_##T(T v, int relu) { return relu ? (v > 0 ? v : 0) : v; }                     \
  /* v where the relu'd d is above 0, else 0 */                                                   \
  INLINE V masked_##T(V v, V dv) { return (V)((IV)v & (IV)(dv > (V){0})); }

typedef int vi32 __attribute__((vector_size(32)));
typedef long long vi64 __attribute__((vector_size(32)));
READ_D(float, vf, load_f, vi32)
READ_D(double, vd, load_d, vi64)

/* Pass two over rows [m0, m1): gd of those rows, and their part of gW added into acc (zeroed
 * first). NR rows at a time (GROUP, then single rows): for each lane chunk of Ci, the NR rows'
 * gd chunks stay in registers while the Co filter rows go by, each filter chunk and each gW
 * chunk loaded once for the NR rows. */
#define ROWS(NAME, T, V, LOAD, STORE, LANES, NR)                                                  \
  INLINE void NAME(const job_t *a, const T *gp, long r0, T *acc, int want_gd, int want_gw) {      \
    const T *d = a->d, *w = a->w;                                                                 \
    T *gd = a->gd;                                                                                \
    long Co = a->co, Ci = a->ci;                                                                  \
    int relu = (int)a->relu_d, mask = (int)a->mask_gd;                                            \
    long k0 = 0;                                                                                  \
    for (; k0 + LANES <= Ci; k0 += LANES) {                                                       \
      V dv[NR], gv[NR];                                                                           \
      for (int i = 0; i < NR; i++) {                                                              \
        gv[i] = dv[i] = (V){0};                                                                   \
        if (want_gw || mask) dv[i] = read_d_##T(d + (r0 + i) * Ci + k0, relu);                    \
      }                                                                                           \
      for (long o = 0; o < Co; o++) {                                                             \
        if (want_gd) {                                                                            \
          V wv = LOAD(w + o * Ci + k0);                                                           \
          for (int i = 0; i < NR; i++) gv[i] += gp[i * Co + o] * wv;                              \
        }                                                                                         \
        if (want_gw) {                                                                            \
          V av = LOAD(acc + o * Ci + k0);                                                         \
          for (int i = 0; i < NR; i++) av += gp[i * Co + o] * dv[i];                              \
          STORE(acc + o * Ci + k0, av);                                                           \
        }                                                                                         \
      }                                                                                           \
      if (want_gd)                                                                                \
        for (int i = 0; i < NR; i++)                                                              \
          STORE(gd + (r0 + i) * Ci + k0, mask ? masked_##T(gv[i], dv[i]) : gv[i]);                \
    }                                                                                             \
    for (; k0 < Ci; k0++) {                                                                       \
      T dk[NR], gk[NR];                                                                           \
      for (int i = 0; i < NR; i++) {                                                              \
        gk[i] = 0;                                                                                \
        dk[i] = want_gw || mask ? read_d1_##T(d[(r0 + i) * Ci + k0], relu) : 0;                   \
      }                                                                                           \
      for (long o = 0; o < Co; o++) {                                                             \
        if (want_gd)                                                                              \
          for (int i = 0; i < NR; i++) gk[i] += gp[i * Co + o] * w[o * Ci + k0];                  \
        if (want_gw) {                                                                            \
          T s = acc[o * Ci + k0];                                                                 \
          for (int i = 0; i < NR; i++) s += gp[i * Co + o] * dk[i];                               \
          acc[o * Ci + k0] = s;                                                                   \
        }                                                                                         \
      }                                                                                           \
      if (want_gd)                                                                                \
        for (int i = 0; i < NR; i++) gd[(r0 + i) * Ci + k0] = mask && !(dk[i] > 0) ? 0 : gk[i];   \
    }                                                                                             \
  }

/* gp of NR rows from r0 into gp[NR][Co]: k1 * g + k2 * y + k3. */
#define GP(NAME, T, V, LOAD, STORE, LANES)                                                        \
  INLINE void NAME(const job_t *a, long r0, int nr, T *gp) {                                      \
    const T *g = a->g, *y = a->y, *k = a->coef;                                                   \
    long C = a->co;                                                                               \
    for (int i = 0; i < nr; i++) {                                                                \
      const T *gr = g + (r0 + i) * C, *yr = y + (r0 + i) * C;                                     \
      long o = 0;                                                                                 \
      for (; o + LANES <= C; o += LANES)                                                          \
        STORE(gp + i * C + o,                                                                     \
              LOAD(k + o) * LOAD(gr + o) + LOAD(k + C + o) * LOAD(yr + o) + LOAD(k + 2 * C + o)); \
      for (; o < C; o++) gp[i * C + o] = k[o] * gr[o] + k[C + o] * yr[o] + k[2 * C + o];          \
    }                                                                                             \
  }

#define PASS2(NAME, T, GPF, ROWS4, ROWS1)                                                         \
  CLONES static void NAME(const job_t *a, long b, long m0, long m1) {                             \
    T gp[GROUP * MAX_CHANS];                                                                      \
    T *acc = (T *)a->gw_part + b * a->co * a->ci;                                                 \
    int want_gd = (int)a->want_gd, want_gw = (int)a->want_gw;                                     \
    if (want_gw)                                                                                  \
      for (long e = 0; e < a->co * a->ci; e++) acc[e] = 0;                                        \
    long r = m0;                                                                                  \
    for (; r + GROUP <= m1; r += GROUP) {                                                         \
      GPF(a, r, GROUP, gp);                                                                       \
      if (want_gd && want_gw) ROWS4(a, gp, r, acc, 1, 1);                                         \
      else if (want_gd) ROWS4(a, gp, r, acc, 1, 0);                                               \
      else ROWS4(a, gp, r, acc, 0, 1);                                                            \
    }                                                                                             \
    for (; r < m1; r++) {                                                                         \
      GPF(a, r, 1, gp);                                                                           \
      ROWS1(a, gp, r, acc, want_gd, want_gw);                                                     \
    }                                                                                             \
  }

SUMS(sums_f, float, vf, load_f, store_f, 8)
SUMS(sums_d, double, vd, load_d, store_d, 4)
GP(gp_f, float, vf, load_f, store_f, 8)
GP(gp_d, double, vd, load_d, store_d, 4)
ROWS(rows4_f, float, vf, load_f, store_f, 8, GROUP)
ROWS(rows1_f, float, vf, load_f, store_f, 8, 1)
ROWS(rows4_d, double, vd, load_d, store_d, 4, GROUP)
ROWS(rows1_d, double, vd, load_d, store_d, 4, 1)
PASS2(pass2_f, float, gp_f, rows4_f, rows1_f)
PASS2(pass2_d, double, gp_d, rows4_d, rows1_d)

/* The coefficients k1, k2, k3 (module comment) from the summed S1, S2, in double, stored in T. */
#define COEFS(NAME, T)                                                                            \
  static void NAME(const job_t *a, const double *sums) {                                          \
    const T *gamma = a->gamma, *shift = a->shift, *scale = a->scale, *invstd = a->invstd;         \
    T *k = a->coef;                                                                               \
    long C = a->co;                                                                               \
    double n = (double)a->rows;                                                                   \
    for (long o = 0; o < C; o++) {                                                                \
      double gm = gamma ? gamma[o] : scale ? scale[0] : 1, inv = invstd[o];                       \
      double k2 = -inv * sums[C + o] / (gm * n);                                                  \
      k[o] = (T)(gm * inv);                                                                       \
      k[C + o] = (T)k2;                                                                           \
      k[2 * C + o] = (T)(-gm * inv * sums[o] / n - k2 * (shift ? (double)shift[o] : 0));          \
    }                                                                                             \
  }
COEFS(coefs_f, float)
COEFS(coefs_d, double)

/* gamma's (or the scale's, per channel) and shift's gradients, S2 / gamma and S1. */
#define AFFINE_GRADS(NAME, T)                                                                     \
  static void NAME(const job_t *a, const double *sums, T *g_gamma, T *g_shift) {                  \
    const T *gamma = a->gamma, *scale = a->scale;                                                 \
    long C = a->co;                                                                               \
    for (long o = 0; o < C; o++) {                                                                \
      double gm = gamma ? gamma[o] : scale ? scale[0] : 1;                                        \
      if (g_gamma) g_gamma[o] = (T)(sums[C + o] / gm);                                            \
      if (g_shift) g_shift[o] = (T)sums[o];                                                       \
    }                                                                                             \
  }
AFFINE_GRADS(affine_grads_f, float)
AFFINE_GRADS(affine_grads_d, double)

/* gW = the slices' parts added in slice order. */
#define ADD_PARTS(NAME, T)                                                                        \
  static void NAME(const job_t *a, T *gw) {                                                       \
    const T *part = a->gw_part;                                                                   \
    long size = a->co * a->ci;                                                                    \
    for (long e = 0; e < size; e++) gw[e] = part[e];                                              \
    for (long b = 1; b < a->blocks; b++)                                                          \
      for (long e = 0; e < size; e++) gw[e] += part[b * size + e];                                \
  }
ADD_PARTS(add_parts_f, float)
ADD_PARTS(add_parts_d, double)

/* Returns 0; -1 for arguments outside what the loops handle (nothing is then written); -2 where
 * the call's scratch memory (the slices' sums and parts of gW, a few KiB to a few MiB) could
 * not be allocated. */
static int backward(int dbl, const void *g, const void *y, const void *d, const void *w,
                    const void *gamma, const void *shift, const void *scale, const void *invstd,
                    void *gd, void *gw, void *g_gamma, void *g_shift, long rows, long co,
                    long ci, long relu_d, long mask_gd, long want_gd, long want_gw, long blocks,
                    int threads) {
  if (rows < 1 || co < 1 || ci < 1 || co > MAX_CHANS || ci > MAX_CHANS || blocks < 1 ||
      blocks > rows || threads < 1 || (relu_d != 0 && relu_d != 1) ||
      (mask_gd != 0 && mask_gd != relu_d) || (want_gd != 0 && want_gd != 1) ||
      (want_gw != 0 && want_gw != 1) || !g || !y || !invstd || (want_gd && !gd) ||
      (want_gw && (!gw || !w)) || ((want_gw || mask_gd) && !d) || (want_gd && !w))
    return -1;
  size_t real = dbl ? sizeof(double) : sizeof(float);
  double *sum_part = malloc(sizeof(double) * (size_t)(blocks * 2 * co + 2 * co));
  void *coef = malloc(real * (size_t)(3 * co));
  void *gw_part = want_gw ? malloc(real * (size_t)(blocks * co * ci)) : NULL;
  if (!sum_part || !coef || (want_gw && !gw_part)) {
    free(sum_part);
    free(coef);
    free(gw_part);
    return -2;
  }
  double *sums = sum_part + blocks * 2 * co;
  job_t job = {g, y, d, w, gamma, shift, scale, invstd, gd, gw_part, coef, sum_part,
               rows, co, ci, blocks, relu_d, mask_gd, want_gd, want_gw};
  /* Shares PyTorch's OpenMP runtime (libgomp.so.1) as the depthwise kernels do; a call too small
   * to pay for waking a thread runs on one. */
  int team = rows * (co + ci) < 100000 ? 1 : threads;
  #pragma omp parallel for num_threads(team) schedule(static)
  for (long b = 0; b < blocks; b++) {
    long m0 = rows * b / blocks, m1 = rows * (b + 1) / blocks;
    if (dbl) sums_d(&job, m0, m1, sum_part + b * 2 * co);
    else sums_f(&job, m0, m1, sum_part + b * 2 * co);
  }
  add_slice_sums(sum_part, blocks, 2 * co, sums);
  if (dbl) {
    coefs_d(&job, sums);
    affine_grads_d(&job, sums, g_gamma, g_shift);
  } else {
    coefs_f(&job, sums);
    affine_grads_f(&job, sums, g_gamma, g_shift);
  }
  if (want_gd || want_gw) {
    #pragma omp parallel for num_threads(team) schedule(static)
    for (long b = 0; b < blocks; b++) {
      long m0 = rows * b / blocks, m1 = rows * (b + 1) / blocks;
      if (dbl) pass2_d(&job, b, m0, m1);
      else pass2_f(&job, b, m0, m1);
    }
    if (want_gw) {
      if (dbl) add_parts_d(&job, gw);
      else add_parts_f(&job, gw);
    }
  }
  free(sum_part);
  free(coef);
  free(gw_part);
  return 0;
}

#define ENTRY(NAME, T, DBL)                                                                       \
  int NAME(const T *g, const T *y, const T *d, const T *w, const T *gamma, const T *shift,        \
           const T *scale, const T *invstd, T *gd, T *gw, T *g_gamma, T *g_shift, long rows,      \
           long co, long ci, long relu_d, long mask_gd, long want_gd, long want_gw, long blocks,  \
           int threads) {                                                                         \
    return backward(DBL, g, y, d, w, gamma, shift, scale, invstd, gd, gw, g_gamma, g_shift,       \
                    rows, co, ci, relu_d, mask_gd, want_gd, want_gw, blocks, threads);            \
  }
ENTRY(genospec_bn_pointwise_backward_f32, float, 0)
ENTRY(genospec_bn_pointwise_backward_f64, double, 1)
