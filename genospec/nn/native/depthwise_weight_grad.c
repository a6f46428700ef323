/* The weight gradient of a depthwise (one filter per channel) 2-d correlation, channels-last.
 *
 *   out[i][j][c] = sum over n, ho, wo of g[n][ho][wo][c] * x[n][ho*s + i*d - p][wo*s + j*d - p][c]
 *
 * x is [N, H, W, C] and g [N, Ho, Wo, C], both dense in that order (a channels-last PyTorch
 * tensor's memory); positions outside x are the zero padding and are skipped, never read.
 * genospec/nn/native/__init__.py checks every size before calling and allocates `part` and
 * `out`; weight_grad below checks them again.
 *
 * Determinism: the batch is cut into `chunks` fixed slices, each summed into its own row of
 * `part` (chunks x K*K*C); the rows are then added in slice order. The thread count only
 * decides which thread sums which slices, so the result is the same bits for any thread count.
 */
#include "vectors.h"

typedef struct {
  const void *x, *g;
  void *part;
  long n_batch, chans, height, width, out_h, out_w, kernel, stride, pad, dil, chunks;
} job_t;

/* Output columns wo whose input column wo*s + off lies in [0, width): [lo, hi). */
INLINE void valid_columns(long off, long s, long width, long out_w, long *lo, long *hi) {
  *lo = off >= 0 ? 0 : (-off + s - 1) / s;
  *hi = width - 1 - off < 0 ? 0 : (width - 1 - off) / s + 1;
  if (*hi > out_w) *hi = out_w;
  if (*lo > *hi) *lo = *hi;
}

/* One output-gradient row against one input row: acc[j][c] += sum_wo g[wo][c] * x[wo*s+j*d-p][c]
 * for the K taps j of the row. Lanes of LANES channels; the channels past the last full lane
 * one at a time. */
#define ROW(NAME, T, V, LOAD, STORE, LANES, K)                                                    \
  INLINE void NAME(const T *grow, const T *xrow, T *acc, long C, long W, long Wo, long s, long p,  \
                   long d) {                                                                      \
    long lo[K], hi[K], inner_lo = 0, inner_hi = Wo;                                               \
    for (int j = 0; j < K; j++) {                                                                 \
      valid_columns(j * d - p, s, W, Wo, &lo[j], &hi[j]);                                         \
      if (lo[j] > inner_lo) inner_lo = lo[j];                                                     \
      if (hi[j] < inner_hi) inner_hi = hi[j];                                                     \
    }                                                                                             \
    if (inner_hi < inner_lo) inner_hi = inner_lo;                                                 \
    long c0 = 0;                                                                                  \
    for (; c0 + LANES <= C; c0 += LANES) {                                                        \
      V sum[K];                                                                                   \
      for (int j = 0; j < K; j++) sum[j] = (V){0};                                                \
      for (long wo = 0; wo < inner_lo; wo++) { /* left border: some taps in the padding */        \
        V gv = LOAD(grow + wo * C + c0);                                                          \
        for (int j = 0; j < K; j++)                                                               \
          if (wo >= lo[j] && wo < hi[j]) sum[j] += gv * LOAD(xrow + (wo * s + j * d - p) * C + c0);\
      }                                                                                           \
      for (long wo = inner_lo; wo < inner_hi; wo++) { /* every tap inside */                      \
        V gv = LOAD(grow + wo * C + c0);                                                          \
        const T *xb = xrow + (wo * s - p) * C + c0;                                               \
        for (int j = 0; j < K; j++) sum[j] += gv * LOAD(xb + j * d * C);                          \
      }                                                                                           \
      for (long wo = inner_hi; wo < Wo; wo++) { /* right border */                                \
        V gv = LOAD(grow + wo * C + c0);                                                          \
        for (int j = 0; j < K; j++)                                                               \
          if (wo >= lo[j] && wo < hi[j]) sum[j] += gv * LOAD(xrow + (wo * s + j * d - p) * C + c0);\
      }                                                                                           \
      for (int j = 0; j < K; j++) STORE(acc + j * C + c0, LOAD(acc + j * C + c0) + sum[j]);       \
    }                                                                                             \
    for (long c = c0; c < C; c++)                                                                 \
      for (int j = 0; j < K; j++) {                                                               \
        T sum = 0;                                                                                \
        for (long wo = lo[j]; wo < hi[j]; wo++)                                                   \
          sum += grow[wo * C + c] * xrow[(wo * s + j * d - p) * C + c];                           \
        acc[j * C + c] += sum;                                                                    \
      }                                                                                           \
  }

EACH_ROW_LOOP(ROW)

/* Sums batch slice b into row b of part. */
#define RUN(NAME, T, ROW3, ROW5, ROW7)                                                           \
  CLONES static void NAME(const job_t *a, long b) {                                               \
    const T *x = a->x, *g = a->g;                                                                 \
    long C = a->chans, K = a->kernel;                                                             \
    T *part = (T *)a->part + b * K * K * C;                                                       \
    long n0 = a->n_batch * b / a->chunks, n1 = a->n_batch * (b + 1) / a->chunks;                  \
    for (long n = n0; n < n1; n++)                                                                \
      for (long ho = 0; ho < a->out_h; ho++) {                                                    \
        const T *grow = g + (n * a->out_h + ho) * a->out_w * C;                                   \
        for (long i = 0; i < K; i++) {                                                            \
          long hi = ho * a->stride + i * a->dil - a->pad;                                         \
          if (hi < 0 || hi >= a->height) continue;                                                \
          const T *xrow = x + (n * a->height + hi) * a->width * C;                                \
          T *acc = part + i * K * C;                                                              \
          if (K == 3) ROW3(grow, xrow, acc, C, a->width, a->out_w, a->stride, a->pad, a->dil);    \
          else if (K == 5) ROW5(grow, xrow, acc, C, a->width, a->out_w, a->stride, a->pad, a->dil);\
          else ROW7(grow, xrow, acc, C, a->width, a->out_w, a->stride, a->pad, a->dil);           \
        }                                                                                         \
      }                                                                                           \
  }

RUN(run_f, float, row3_f, row5_f, row7_f)
RUN(run_d, double, row3_d, row5_d, row7_d)

/* Returns 0, or -1 for arguments outside what the loops handle (nothing is then written). */
static int weight_grad(int dbl, const void *x, const void *g, void *part, void *out, long n_batch,
                       long chans, long height, long width, long out_h, long out_w, long kernel,
                       long stride, long pad, long dil, long chunks, int threads) {
  if (!(kernel == 3 || kernel == 5 || kernel == 7) || stride < 1 || dil < 1 || pad < 0 ||
      pad > dil * (kernel - 1) || n_batch < 1 || chans < 1 || height < 1 || width < 1 ||
      height + 2 * pad < dil * (kernel - 1) + 1 || width + 2 * pad < dil * (kernel - 1) + 1 ||
      out_h != (height + 2 * pad - dil * (kernel - 1) - 1) / stride + 1 ||
      out_w != (width + 2 * pad - dil * (kernel - 1) - 1) / stride + 1 || chunks < 1 ||
      chunks > n_batch || threads < 1)
    return -1;
  long kkc = kernel * kernel * chans, size = dbl ? sizeof(double) : sizeof(float);
  memset(part, 0, (size_t)(chunks * kkc * size));
  job_t job = {x, g, part, n_batch, chans, height, width, out_h, out_w, kernel, stride, pad, dil,
               chunks};
  /* One slice per iteration. Compiled with -fopenmp and loaded after PyTorch, this shares
   * PyTorch's OpenMP runtime (the same libgomp.so.1) and so its waiting threads. */
  #pragma omp parallel for num_threads(threads) schedule(static)
  for (long b = 0; b < chunks; b++) {
    if (dbl) run_d(&job, b); else run_f(&job, b);
  }
  for (long m = 0; m < kkc; m++) { /* slices added in order: the same bits for any thread count */
    if (dbl) {
      const double *p = part; double sum = 0;
      for (long b = 0; b < chunks; b++) sum += p[b * kkc + m];
      ((double *)out)[m] = sum;
    } else {
      const float *p = part; float sum = 0;
      for (long b = 0; b < chunks; b++) sum += p[b * kkc + m];
      ((float *)out)[m] = sum;
    }
  }
  return 0;
}

int genospec_depthwise_weight_grad_f32(const float *x, const float *g, float *part, float *out,
    long n_batch, long chans, long height, long width, long out_h, long out_w, long kernel,
    long stride, long pad, long dil, long chunks, int threads) {
  return weight_grad(0, x, g, part, out, n_batch, chans, height, width, out_h, out_w, kernel,
                     stride, pad, dil, chunks, threads);
}

int genospec_depthwise_weight_grad_f64(const double *x, const double *g, double *part,
    double *out, long n_batch, long chans, long height, long width, long out_h, long out_w,
    long kernel, long stride, long pad, long dil, long chunks, int threads) {
  return weight_grad(1, x, g, part, out, n_batch, chans, height, width, out_h, out_w, kernel,
                     stride, pad, dil, chunks, threads);
}
