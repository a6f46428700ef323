/* A depthwise (one filter per channel) 2-d correlation, channels-last.
 *
 *   y[n][ho][wo][c] = sum over i, j of w[i][j][c] * x[n][ho*s + i*d - p][wo*s + j*d - p][c]
 *
 * x is [N, H, W, C], w [C, K, K] (PyTorch's [C, 1, K, K] filter; with `flip`, read rotated by
 * half a turn, w[c][K-1-i][K-1-j], as a stride-1 input gradient wants) and y [N, Ho, Wo, C], all
 * dense in that order. Each block of rows first lays the filter out as [K, K, C], so that one
 * tap's channels lie together. Rows of taps falling in
 * the zero padding are skipped; columns read a zero-padded copy of their row (RUN below). genospec/nn/native/__init__.py checks every size before
 * calling; forward below checks them again.
 *
 * Why: oneDNN's depthwise convolution costs 55-70 us a call however small the tensor (two cores),
 * and the small supernets of a quick search make thousands of such calls a step.
 *
 * Determinism: one thread computes each output row (n, ho), summing its taps in the fixed order
 * i, then j; the thread count only decides which thread computes which rows, so the result is
 * the same bits for any thread count.
 */
#include <stdlib.h>

#include "vectors.h"

typedef struct {
  const void *x, *w;
  void *y;
  long n_batch, chans, height, width, out_h, out_w, kernel, stride, pad, dil, flip;
} job_t;

/* One output row from the `rows` input rows its taps meet: xrows[r], zero-padded on both sides
 * (column 0 of xrows[r] is padded column 0), meets filter row taps[r]. Every column's taps are
 * then inside the padded row: columns go four at a time, each filter tap loaded once for the
 * four; the channels past the last full lane one at a time. */
#define ROW(NAME, T, V, LOAD, STORE, LANES, K)                                                    \
  INLINE void NAME(const T *const *xrows, const long *taps, int rows, const T *w, T *y, long C,   \
                   long Wo, long s, long d) {                                                     \
    long c0 = 0;                                                                                  \
    for (; c0 + LANES <= C; c0 += LANES) {                                                        \
      long wo = 0;                                                                                \
      for (; wo + 4 <= Wo; wo += 4) {                                                             \
        V a0 = (V){0}, a1 = (V){0}, a2 = (V){0}, a3 = (V){0};                                     \
        for (int r = 0; r < rows; r++) {                                                          \
          const T *xb = xrows[r] + wo * s * C + c0, *wr = w + taps[r] * K * C + c0;               \
          for (int j = 0; j < K; j++) {                                                           \
            V wv = LOAD(wr + j * C);                                                              \
            const T *xj = xb + j * d * C;                                                         \
            a0 += wv * LOAD(xj);                                                                  \
            a1 += wv * LOAD(xj + s * C);                                                          \
            a2 += wv * LOAD(xj + 2 * s * C);                                                      \
            a3 += wv * LOAD(xj + 3 * s * C);                                                      \
          }                                                                                       \
        }                                                                                         \
        STORE(y + wo * C + c0, a0);                                                               \
        STORE(y + (wo + 1) * C + c0, a1);                                                         \
        STORE(y + (wo + 2) * C + c0, a2);                                                         \
        STORE(y + (wo + 3) * C + c0, a3);                                                         \
      }                                                                                           \
      for (; wo < Wo; wo++) {                                                                     \
        V acc = (V){0};                                                                           \
        for (int r = 0; r < rows; r++) {                                                          \
          const T *xb = xrows[r] + wo * s * C + c0, *wr = w + taps[r] * K * C + c0;               \
          for (int j = 0; j < K; j++) acc += LOAD(wr + j * C) * LOAD(xb + j * d * C);             \
        }                                                                                         \
        STORE(y + wo * C + c0, acc);                                                              \
      }                                                                                           \
    }                                                                                             \
    for (long c = c0; c < C; c++)                                                                 \
      for (long wo = 0; wo < Wo; wo++) {                                                          \
        T acc = 0;                                                                                \
        for (int r = 0; r < rows; r++)                                                            \
          for (int j = 0; j < K; j++)                                                             \
            acc += w[(taps[r] * K + j) * C + c] * xrows[r][(wo * s + j * d) * C + c];            \
        y[wo * C + c] = acc;                                                                      \
      }                                                                                           \
  }

EACH_ROW_LOOP(ROW)

/* This thread's scratch memory, at least `bytes` of it (NULL where it cannot be had). Kept from
 * call to call and grown only when a larger call comes, so that a call allocates nothing: at
 * most the largest call's few padded rows and filter per thread. */
static __thread void *scratch_block;
static __thread size_t scratch_size;

static void *scratch(size_t bytes) {
  if (bytes > scratch_size) {
    void *grown = realloc(scratch_block, bytes);
    if (!grown) return NULL;
    scratch_block = grown;
    scratch_size = bytes;
  }
  return scratch_block;
}

/* Output rows [m0, m1) of the N*Ho rows; 0, or -1 where the scratch rows cannot be allocated.
 * The input rows a block reads are copied, zero-padded left and right, into a ring of
 * (K-1)*d + 1 scratch rows (the span of one output row's taps, so the rows it needs never
 * share a slot): each is copied once while consecutive output rows reuse it, and no column
 * needs a bounds check. */
#define RUN(NAME, T, ROW3, ROW5, ROW7)                                                           \
  CLONES static int NAME(const job_t *a, long m0, long m1) {                                      \
    const T *x = a->x, *filter = a->w;                                                            \
    long C = a->chans, K = a->kernel, W = a->width, p = a->pad, d = a->dil;                       \
    long padded = (W + 2 * p) * C, span = (K - 1) * d + 1;                                        \
    /* the ring of scratch rows, the filter as [K, K, C], which input row each slot holds */      \
    size_t reals = (size_t)(span * padded + K * K * C + 1) & ~(size_t)1; /* even: longs align */  \
    T *ring = scratch(reals * sizeof(T) + (size_t)span * sizeof(long));                           \
    if (!ring) return -1;                                                                         \
    T *w = ring + span * padded;                                                                  \
    long *held = (long *)(ring + reals);                                                          \
    memset(ring, 0, (size_t)(span * padded) * sizeof(T));                                         \
    for (long k = 0; k < span; k++) held[k] = -1;                                                 \
    for (long c = 0; c < C; c++)                                                                  \
      for (long t = 0; t < K * K; t++)                                                            \
        w[t * C + c] = filter[c * K * K + (a->flip ? K * K - 1 - t : t)];                         \
    for (long m = m0; m < m1; m++) {                                                              \
      long n = m / a->out_h, ho = m % a->out_h;                                                   \
      const T *xrows[7];                                                                          \
      long taps[7];                                                                               \
      int rows = 0;                                                                               \
      for (long i = 0; i < K; i++) {                                                              \
        long hi = ho * a->stride + i * d - p;                                                     \
        if (hi < 0 || hi >= a->height) continue;                                                  \
        long row = n * a->height + hi, slot = hi % span;                                          \
        T *dst = ring + slot * padded;                                                            \
        if (held[slot] != row) {                                                                  \
          memcpy(dst + p * C, x + row * W * C, (size_t)(W * C) * sizeof(T));                      \
          held[slot] = row;                                                                       \
        }                                                                                         \
        xrows[rows] = dst;                                                                        \
        taps[rows++] = i;                                                                         \
      }                                                                                           \
      T *y = (T *)a->y + m * a->out_w * C;                                                        \
      if (K == 3) ROW3(xrows, taps, rows, w, y, C, a->out_w, a->stride, d);                       \
      else if (K == 5) ROW5(xrows, taps, rows, w, y, C, a->out_w, a->stride, d);                  \
      else ROW7(xrows, taps, rows, w, y, C, a->out_w, a->stride, d);                              \
    }                                                                                             \
    return 0;                                                                                     \
  }

RUN(run_f, float, row3_f, row5_f, row7_f)
RUN(run_d, double, row3_d, row5_d, row7_d)

/* Returns 0; -1 for arguments outside what the loops handle (nothing is then written); -2 where
 * scratch memory could not be allocated (the output is then incomplete). */
static int forward(int dbl, const void *x, const void *w, void *y, long n_batch, long chans,
                   long height, long width, long out_h, long out_w, long kernel, long stride,
                   long pad, long dil, long flip, int threads) {
  if (!(kernel == 3 || kernel == 5 || kernel == 7) || stride < 1 || dil < 1 || pad < 0 ||
      pad > dil * (kernel - 1) || n_batch < 1 || chans < 1 || height < 1 || width < 1 ||
      height + 2 * pad < dil * (kernel - 1) + 1 || width + 2 * pad < dil * (kernel - 1) + 1 ||
      out_h != (height + 2 * pad - dil * (kernel - 1) - 1) / stride + 1 ||
      out_w != (width + 2 * pad - dil * (kernel - 1) - 1) / stride + 1 || threads < 1 ||
      (flip != 0 && flip != 1))
    return -1;
  job_t job = {x, w, y, n_batch, chans, height, width, out_h, out_w, kernel, stride, pad, dil,
               flip};
  long rows = n_batch * out_h;
  /* Blocks of whole rows, a few per thread; shares PyTorch's OpenMP runtime (libgomp.so.1) as
   * depthwise_weight_grad.c does. A call too small to pay for waking a thread runs on one. */
  long work = rows * out_w * chans * kernel * kernel;
  int team = work < 200000 ? 1 : threads;
  long blocks = rows < 8L * team ? rows : 8L * team;
  int failed = 0;
  #pragma omp parallel for num_threads(team) schedule(static) reduction(|: failed)
  for (long b = 0; b < blocks; b++) {
    long m0 = rows * b / blocks, m1 = rows * (b + 1) / blocks;
    failed |= dbl ? run_d(&job, m0, m1) : run_f(&job, m0, m1);
  }
  return failed ? -2 : 0;
}

int genospec_depthwise_forward_f32(const float *x, const float *w, float *y, long n_batch,
    long chans, long height, long width, long out_h, long out_w, long kernel, long stride,
    long pad, long dil, long flip, int threads) {
  return forward(0, x, w, y, n_batch, chans, height, width, out_h, out_w, kernel, stride, pad,
                 dil, flip, threads);
}

int genospec_depthwise_forward_f64(const double *x, const double *w, double *y, long n_batch,
    long chans, long height, long width, long out_h, long out_w, long kernel, long stride,
    long pad, long dil, long flip, int threads) {
  return forward(1, x, w, y, n_batch, chans, height, width, out_h, out_w, kernel, stride, pad,
                 dil, flip, threads);
}
