/* A training-mode BatchNorm's forward over channels-last memory: the batch statistics, the
 * normalised output and the running statistics, in two passes.
 *
 * x is [rows, C] (a channels-last [N, C, H, W] tensor's memory, rows = N * H * W). Pass one sums
 * x - K and (x - K)^2 per channel, K the first row (short runs of rows in registers, the runs
 * in double); with n = rows
 *
 *   mean = K + S1 / n,  var = S2 / n - (S1 / n)^2 (the biased variance BatchNorm normalises with),
 *   invstd = 1 / sqrt(var + eps),
 *
 * and pass two writes y = x * a + b with a = gamma * invstd and b = shift - mean * a per channel
 * (gamma: the affine weight, else the 0-d `scale`, else 1; shift: the bias, else 0). Where
 * running statistics are given they move as PyTorch moves them:
 * running = (1 - factor) * running + factor * batch, with the unbiased variance
 * var * n / (n - 1).
 *
 * PyTorch's channels-last kernel collects the statistics of few channels slowly (203 us of its
 * 302 us at [64, 16, 32, 32] on two cores, where a column sum of the same memory takes 69 us;
 * benchmarks/README.md).
 *
 * Determinism: pass one cuts the rows into `blocks` fixed slices, each summed by one thread in
 * row order, the slices added in order; pass two computes each element alone. The same bits for
 * any thread count.
 */
#include <math.h>
#include <stdlib.h>

#include "vectors.h"

#define MAX_CHANS 1024 /* per-channel sums of a slice live on the stack */
/* the call's scratch (the slices' sums, the coefficients) on the stack up to this many doubles
 * (64 KiB), else from malloc */
#define LOCAL_SCRATCH 8192

typedef struct {
  const void *x, *gamma, *shift, *scale;
  void *y, *coef; /* coef: a and b, the call's scratch */
  double *sum_part;
  long rows, chans, blocks;
} job_t;

/* Pass one over rows [m0, m1): per channel, the sums of x - K and of (x - K)^2, K being the
 * first row of x (the same for every slice), so that the variance's subtraction does not cancel
 * where |mean| is large against the deviation. Runs of RUN rows are summed in T registers, lane
 * chunk by lane chunk, each run's sums then added into double. */
#define RUN 16
#define SUMS(NAME, T, V, LOAD, LANES)                                                             \
  CLONES static void NAME(const job_t *a, long m0, long m1, double *out) {                        \
    const T *x = a->x;                                                                            \
    long C = a->chans;                                                                            \
    double s1[MAX_CHANS], s2[MAX_CHANS];                                                          \
    for (long c = 0; c < C; c++) s1[c] = s2[c] = 0;                                               \
    for (long r0 = m0; r0 < m1; r0 += RUN) {                                                      \
      long r1 = r0 + RUN < m1 ? r0 + RUN : m1, c = 0;                                             \
      for (; c + LANES <= C; c += LANES) {                                                        \
        V k = LOAD(x + c), a1 = (V){0}, a2 = (V){0};                                              \
        for (long r = r0; r < r1; r++) {                                                          \
          V v = LOAD(x + r * C + c) - k;                                                          \
          a1 += v;                                                                                \
          a2 += v * v;                                                                            \
        }                                                                                         \
        for (int l = 0; l < LANES; l++) {                                                         \
          s1[c + l] += (double)a1[l];                                                             \
          s2[c + l] += (double)a2[l];                                                             \
        }                                                                                         \
      }                                                                                           \
      for (; c < C; c++)                                                                          \
        for (long r = r0; r < r1; r++) {                                                          \
          double v = (double)x[r * C + c] - (double)x[c];                                         \
          s1[c] += v;                                                                             \
          s2[c] += v * v;                                                                         \
        }                                                                                         \
    }                                                                                             \
    for (long c = 0; c < C; c++) {                                                                \
      out[c] = s1[c];                                                                             \
      out[C + c] = s2[c];                                                                         \
    }                                                                                             \
  }

/* Pass two over rows [m0, m1): y = x * a + b. */
#define NORMALISE(NAME, T, V, LOAD, STORE, LANES)                                                 \
  CLONES static void NAME(const job_t *a, long m0, long m1) {                                     \
    const T *x = a->x, *k = a->coef;                                                              \
    T *y = a->y;                                                                                  \
    long C = a->chans;                                                                            \
    for (long r = m0; r < m1; r++) {                                                              \
      const T *xr = x + r * C;                                                                    \
      T *yr = y + r * C;                                                                          \
      long c = 0;                                                                                 \
      for (; c + LANES <= C; c += LANES)                                                          \
        STORE(yr + c, LOAD(xr + c) * LOAD(k + c) + LOAD(k + C + c));                              \
      for (; c < C; c++) yr[c] = xr[c] * k[c] + k[C + c];                                         \
    }                                                                                             \
  }

SUMS(sums_f, float, vf, load_f, 8)
SUMS(sums_d, double, vd, load_d, 4)
NORMALISE(normalise_f, float, vf, load_f, store_f, 8)
NORMALISE(normalise_d, double, vd, load_d, store_d, 4)

/* mean, invstd and the running statistics from the summed S1, S2; a and b into coef. */
#define STATS(NAME, T)                                                                            \
  static void NAME(const job_t *a, const double *sums, double eps, double factor, T *mean,       \
                   T *invstd, T *running_mean, T *running_var) {                                  \
    const T *gamma = a->gamma, *shift = a->shift, *scale = a->scale, *x = a->x;                   \
    T *k = a->coef;                                                                               \
    long C = a->chans;                                                                            \
    double n = (double)a->rows;                                                                   \
    for (long c = 0; c < C; c++) {                                                                \
      double d = sums[c] / n, var = sums[C + c] / n - d * d, m = (double)x[c] + d;                \
      if (var < 0) var = 0; /* rounding: a constant channel */                                    \
      double inv = 1.0 / sqrt(var + eps);                                                         \
      double gm = gamma ? (double)gamma[c] : scale ? (double)scale[0] : 1.0;                      \
      double sh = shift ? (double)shift[c] : 0.0;                                                 \
      mean[c] = (T)m;                                                                             \
      invstd[c] = (T)inv;                                                                         \
      k[c] = (T)(gm * inv);                                                                       \
      k[C + c] = (T)(sh - m * gm * inv);                                                          \
      if (running_mean)                                                                           \
        running_mean[c] = (T)((1.0 - factor) * (double)running_mean[c] + factor * m);            \
      if (running_var)                                                                            \
        running_var[c] = (T)((1.0 - factor) * (double)running_var[c] +                            \
                             factor * var * n / (n - 1)); /* n = 1: NaN, as PyTorch */       \
    }                                                                                             \
  }
STATS(stats_f, float)
STATS(stats_d, double)

/* Returns 0; -1 for arguments outside what the loops handle (nothing is then written); -2 where
 * the call's scratch memory (the slices' sums, beyond LOCAL_SCRATCH) could not be allocated. */
static int forward(int dbl, const void *x, const void *gamma, const void *shift,
                   const void *scale, void *y, void *mean, void *invstd, void *running_mean,
                   void *running_var, long rows, long chans, double eps, double factor,
                   long blocks, int threads) {
  if (rows < 1 || chans < 1 || chans > MAX_CHANS || blocks < 1 || blocks > rows ||
      threads < 1 || !x || !y || !mean || !invstd || !(eps > 0) || !(factor >= 0) ||
      !(factor <= 1) || (gamma && scale))
    return -1;
  double local[LOCAL_SCRATCH];
  size_t need = (size_t)(blocks * 2 * chans + 2 * chans) + (size_t)(2 * chans);
  int heap = need > LOCAL_SCRATCH;
  double *sum_part = heap ? malloc(sizeof(double) * need) : local;
  if (!sum_part) return -2;
  void *coef = sum_part + blocks * 2 * chans + 2 * chans;
  double *sums = sum_part + blocks * 2 * chans;
  job_t job = {x, gamma, shift, scale, y, coef, sum_part, rows, chans, blocks};
  /* Shares PyTorch's OpenMP runtime (libgomp.so.1) as the other kernels do; a call too small to
   * pay for waking a thread runs on one. */
  int team = rows * chans < 100000 ? 1 : threads;
  #pragma omp parallel for num_threads(team) schedule(static)
  for (long b = 0; b < blocks; b++) {
    long m0 = rows * b / blocks, m1 = rows * (b + 1) / blocks;
    if (dbl) sums_d(&job, m0, m1, sum_part + b * 2 * chans);
    else sums_f(&job, m0, m1, sum_part + b * 2 * chans);
  }
  add_slice_sums(sum_part, blocks, 2 * chans, sums);
  if (dbl) stats_d(&job, sums, eps, factor, mean, invstd, running_mean, running_var);
  else stats_f(&job, sums, eps, factor, mean, invstd, running_mean, running_var);
  #pragma omp parallel for num_threads(team) schedule(static)
  for (long b = 0; b < blocks; b++) {
    long m0 = rows * b / blocks, m1 = rows * (b + 1) / blocks;
    if (dbl) normalise_d(&job, m0, m1);
    else normalise_f(&job, m0, m1);
  }
  if (heap) free(sum_part);
  return 0;
}

#define ENTRY(NAME, T, DBL)                                                                       \
  int NAME(const T *x, const T *gamma, const T *shift, const T *scale, T *y, T *mean, T *invstd,  \
           T *running_mean, T *running_var, long rows, long chans, double eps, double factor,     \
           long blocks, int threads) {                                                            \
    return forward(DBL, x, gamma, shift, scale, y, mean, invstd, running_mean, running_var, rows, \
                   chans, eps, factor, blocks, threads);                                          \
  }
ENTRY(genospec_bn_forward_f32, float, 0)
ENTRY(genospec_bn_forward_f64, double, 1)
