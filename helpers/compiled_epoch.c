/*
 * One epoch of mini-batch gradient descent for the softmax classifier, fused:
 * the C side of helpers/compiled_epoch.py (which compiles it on first use and documents
 * the arguments). Compiled once per floating-point type: -DREAL=double or
 * -DREAL=float.
 *
 * Per mini-batch of m rows (row i of the batch is X[perm[start + i]], read in
 * place: no gathered copy; or, from uint8 pixels, decoded into a buffer first):
 *   1. S = X_b [W; W0]^T           scores under the weights being trained (W)
 *                                  and those the epoch started from (W0)
 *   2. scores[start + i] = S[i, K:] (if asked for)
 *   3. G = (eta / m) (softmax(S[:, :K] + b) - T), T the targets: one-hot Y, or
 *      smoothed, (1 - smooth) Y + smooth / K (helpers.model.targets)
 *   4. gW = G^T X_b
 *   5. W = W (1 - 2 eta lam) - gW,  b = b - sum_i G[i]
 *
 * Reproducibility: every number is computed by one fixed sequence of
 * operations. A score is a dot product over d in VL lanes (lane l takes
 * d = l, l + VL, ...; VL = 8 doubles with AVX-512, 4 with AVX or AVX2, 2
 * otherwise), the lanes summed in a fixed tree, then the last D % VL terms in
 * order; a gradient entry sums its rows i = 0, 1, ... in order. Each output's
 * sequence depends neither on the other outputs nor on how the loops are
 * blocked, so the register-blocked loops and the plain tail loops give the
 * same bits. For that, every multiply-add rounds once where the CPU has fused
 * multiply-add instructions, and twice where it has not, in vector and scalar
 * code alike: the vector loops call vmuladd() (x86: the FMA instructions), the
 * scalar ones muladd() (fma()), which say so explicitly. Left to the compiler,
 * a scalar loop that GCC vectorised as an in-order reduction was not
 * contracted, nor (tuned for AMD Zen) a vector loop with one accumulator, and
 * the last bits differed.
 * The vector width follows the CPU (-march=native), so the bits can differ
 * between CPU families, as BLAS's do; on one machine, with one compiler and C
 * library, a run gives the same bits every time.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(REAL) || !defined(SUFFIX)
#error "compile with -DREAL=double -DSUFFIX=f64 or -DREAL=float -DSUFFIX=f32 (helpers/compiled_epoch.py does)"
#endif

/* The vector width and the register blocks follow the instruction set the compiler targets
   (-march=native: this CPU's): 32 registers of 64 bytes with AVX-512, 16 of 32 bytes with AVX,
   16 of 16 bytes otherwise. The blocks only change which outputs are computed together, never
   the operations of one output; the vector width changes the lanes, hence the last bits. */
#if defined(__AVX512F__)
#define VBYTES 64
#define RB 4    /* rows per register block of the scores */
#define CB 5    /* classes per register block of the scores: RB x CB accumulators */
#define GB 10   /* classes per register block of the gradient: GB x 2 accumulators */
#elif defined(__AVX__)
#define VBYTES 32
#define RB 3
#define CB 4
#define GB 5
#else
#define VBYTES 16
#define RB 3
#define CB 4
#define GB 5
#endif
#define VL ((int64_t)(VBYTES / sizeof(REAL)))
typedef REAL vec __attribute__((vector_size(VBYTES)));

static inline vec load(const REAL *p) { vec v; memcpy(&v, p, sizeof v); return v; }
static inline void store(REAL *p, vec v) { memcpy(p, &v, sizeof v); }
static inline vec splat(REAL s) { return (vec){0} + s; }

/* a * b + c in every lane, rounded once where the CPU has fused multiply-add. Said explicitly on x86:
   left to the compiler (-ffp-contract=fast), GCC 12 tuning for AMD Zen (-march=native there) keeps a
   loop's single accumulator chain as a multiply and an add ("avoid FMA chains") while it fuses the
   register-blocked loops, and the leftover rows' scores differed from the blocked ones in the last bits.
   Elsewhere (arm64: always FMA) the compiler contracts a * b + c, which -ffp-contract=fast allows. */
#if defined(__x86_64__) && (defined(__FMA__) || defined(__AVX512F__))
#include <immintrin.h>
#if VBYTES == 64
typedef __m512d vd; typedef __m512 vf;
#define FMADD_PD _mm512_fmadd_pd
#define FMADD_PS _mm512_fmadd_ps
#else
typedef __m256d vd; typedef __m256 vf;
#define FMADD_PD _mm256_fmadd_pd
#define FMADD_PS _mm256_fmadd_ps
#endif
static inline vec vmuladd(vec a, vec b, vec c)
{
    return sizeof(REAL) == sizeof(double) ? (vec)FMADD_PD((vd)a, (vd)b, (vd)c) : (vec)FMADD_PS((vf)a, (vf)b, (vf)c);
}
#else
static inline vec vmuladd(vec a, vec b, vec c) { return a * b + c; }   /* contracted by the compiler, if at all */
#endif
/* Prefetch the cache line `bytes` after p, which may lie past the end of X: computed as an integer. */
#define PREFETCH_AHEAD(p, bytes) __builtin_prefetch((const void *)((uintptr_t)(p) + (bytes)))

/* Keep a value in a register: without this, GCC re-reads the weights from memory for every row. */
#if defined(__x86_64__)   /* "v": any SSE/AVX register, 16, 32 or 64 bytes as VBYTES */
#define IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define IN_REGISTER(v) ((void)0)
#endif

/* Whether the target has fused multiply-add instructions: one answer for the vector and the scalar loops. */
#if defined(__FMA__) || defined(__AVX512F__) || (defined(__FP_FAST_FMA) && defined(__FP_FAST_FMAF))
#define HAVE_FMA 1
#endif

/* a * b + c, rounded once if the CPU has fused multiply-add (as vmuladd() does in the vector loops), twice
   otherwise. */
static inline REAL muladd(REAL a, REAL b, REAL c)
{
#if defined(HAVE_FMA)
    return sizeof(REAL) == sizeof(float) ? fmaf(a, b, c) : fma(a, b, c);
#else
    return a * b + c;
#endif
}

/* The lanes of v summed in a fixed tree: (l, l + VL/2), then halves again. */
static inline REAL lane_sum(vec v)
{
    REAL t[VL];
    memcpy(t, &v, sizeof v);
    for (int64_t w = VL / 2; w > 0; w /= 2)
        for (int64_t l = 0; l < w; l++)
            t[l] += t[l + w];
    return t[0];
}

/* The terms of a dot product that do not fill a vector, in order. */
static inline REAL tail_dot(const REAL *x, const REAL *w, int64_t from, int64_t D)
{
    REAL t = 0;
    for (int64_t d = from; d < D; d++)
        t = muladd(x[d], w[d], t);
    return t;
}

/* x . w with the lanes of the register-blocked loop. */
static REAL dot(const REAL *x, const REAL *w, int64_t D)
{
    const int64_t Dv = D - D % VL;
    vec a = {0};
    for (int64_t d = 0; d < Dv; d += VL)
        a = vmuladd(load(x + d), load(w + d), a);
    return lane_sum(a) + tail_dot(x, w, Dv, D);
}

/* Pixels decoded as helpers.data.decode decodes them: x = u / 255, then (x - mean) / std when mean is
   given, each operation rounded to REAL as NumPy rounds it (no multiply-add here, so nothing is
   contracted), in vector lanes or one by one alike. */
typedef uint8_t bytes __attribute__((vector_size(VL)));   /* VL pixels */
typedef uint16_t words __attribute__((vector_size(2 * VL)));
typedef int32_t ints __attribute__((vector_size(4 * VL)));

static inline vec decode_vec(const uint8_t *u, const REAL *mean, const REAL *std)
{
    bytes p;
    memcpy(&p, u, sizeof p);
    /* uint8 -> uint16 -> int32 -> REAL: exact, and in vector registers. Converted directly, GCC 12
       widened uint8 one lane at a time, and the float32 epoch over pixels took 1.3 times as long. */
    const ints n = __builtin_convertvector(__builtin_convertvector(p, words), ints);
    vec x = __builtin_convertvector(n, vec) / splat((REAL)255);
    return mean ? (x - load(mean)) / load(std) : x;
}

static void decode_range(const uint8_t *u, const REAL *mean, const REAL *std, int64_t from, int64_t to, REAL *x)
{
    for (int64_t d = from; d < to; d++)
        x[d] = mean ? ((REAL)u[d] / (REAL)255 - mean[d]) / std[d] : (REAL)u[d] / (REAL)255;
}

/* Where a mini-batch's rows come from: X[idx[i]] read in place, or (U given) the pixels U[idx[i]],
   decoded into Xb[i] as the scores first read them, where the gradient then reads them. */
typedef struct {
    const REAL *X;
    const uint8_t *U;
    const REAL *mean, *std;
    REAL *Xb;
} rows_t;

/* The scores of the RB rows x[] against classes c..c+CB: a[r][k] summed over the vector lanes. */
static inline void accumulate(vec a[RB][CB], const vec v[RB], const REAL *Wc, int64_t c, int64_t D, int64_t d)
{
    for (int k = 0; k < CB; k++) {
        vec w = load(Wc + (c + k) * D + d);
        IN_REGISTER(w);
        for (int r = 0; r < RB; r++)
            a[r][k] = vmuladd(v[r], w, a[r][k]);
    }
}

/* S[i C + c] = x_i . Wc[c] for i < m, c < C, x_i the batch's row i (rows_t). */
static void batch_scores(rows_t src, int64_t D, const int64_t *idx, int64_t m, const REAL *Wc, int64_t C, REAL *S)
{
    const int64_t Dv = D - D % VL;
    const REAL *mean = src.mean, *std = src.std;
    int64_t i = 0;
    for (; i + RB <= m; i += RB) {
        const REAL *x[RB], *next[RB];
        const uint8_t *u[RB], *next_u[RB];
        for (int r = 0; r < RB; r++) {
            const int64_t row = idx[i + r], next_row = idx[i + RB + r < m ? i + RB + r : i + r];
            if (src.U) {
                u[r] = src.U + row * D;
                next_u[r] = src.U + next_row * D;
                x[r] = src.Xb + (i + r) * D;
                /* the part no vector loop decodes: the tail, or all of it when no class block runs */
                decode_range(u[r], mean, std, C >= CB ? Dv : 0, D, src.Xb + (i + r) * D);
            } else {
                x[r] = src.X + row * D;
                next[r] = src.X + next_row * D;
            }
        }
        int64_t c = 0;
        for (; c + CB <= C; c += CB) {
            vec a[RB][CB];
            memset(a, 0, sizeof a);
            if (src.U && c == 0) {   /* decode the rows, keep them for the other classes and the gradient */
                for (int64_t d = 0; d < Dv; d += VL) {
                    if (d % 64 == 0)
                        for (int r = 0; r < RB; r++)
                            PREFETCH_AHEAD(next_u[r] + d, 0);
                    vec v[RB];
                    for (int r = 0; r < RB; r++) {
                        v[r] = decode_vec(u[r] + d, mean ? mean + d : NULL, std ? std + d : NULL);
                        store(src.Xb + (i + r) * D + d, v[r]);
                    }
                    accumulate(a, v, Wc, c, D, d);
                }
            } else {
                for (int64_t d = 0; d < Dv; d += VL) {
                    if (c == 0)     /* the next rows, from memory, while these are in cache */
                        for (int r = 0; r < RB; r++)
                            PREFETCH_AHEAD(next[r] + d, 512);
                    vec v[RB];
                    for (int r = 0; r < RB; r++)
                        v[r] = load(x[r] + d);
                    accumulate(a, v, Wc, c, D, d);
                }
            }
            for (int r = 0; r < RB; r++)
                for (int k = 0; k < CB; k++)
                    S[(i + r) * C + c + k] = lane_sum(a[r][k]) + tail_dot(x[r], Wc + (c + k) * D, Dv, D);
        }
        for (; c < C; c++)
            for (int r = 0; r < RB; r++)
                S[(i + r) * C + c] = dot(x[r], Wc + c * D, D);
    }
    for (; i < m; i++) {
        const REAL *x = src.X + idx[i] * D;
        if (src.U) {
            decode_range(src.U + idx[i] * D, mean, std, 0, D, src.Xb + i * D);
            x = src.Xb + i * D;
        }
        for (int64_t c = 0; c < C; c++)
            S[i * C + c] = dot(x, Wc + c * D, D);
    }
}

/* gW[c D + d] = sum over i < m, in order, of G[i K + c] X[idx[i]][d]. */
static void batch_gradient(const REAL *X, int64_t D, const int64_t *idx, int64_t m,
                           const REAL *G, int64_t K, REAL *gW)
{
    const int64_t Dg = D - D % (2 * VL);
    for (int64_t d = 0; d < Dg; d += 2 * VL) {
        int64_t c = 0;
        for (; c + GB <= K; c += GB) {
            vec a[GB][2];
            memset(a, 0, sizeof a);
            for (int64_t i = 0; i < m; i++) {
                const REAL *x = X + idx[i] * D + d;
                PREFETCH_AHEAD(x, 256);   /* this row's columns 256 and 320 bytes on */
                PREFETCH_AHEAD(x, 320);
                const vec v0 = load(x), v1 = load(x + VL);
                const REAL *g = G + i * K + c;
                for (int k = 0; k < GB; k++) {
                    const vec s = splat(g[k]);
                    a[k][0] = vmuladd(s, v0, a[k][0]);
                    a[k][1] = vmuladd(s, v1, a[k][1]);
                }
            }
            for (int k = 0; k < GB; k++) {
                store(gW + (c + k) * D + d, a[k][0]);
                store(gW + (c + k) * D + d + VL, a[k][1]);
            }
        }
        for (; c < K; c++) {
            vec a0 = {0}, a1 = {0};
            for (int64_t i = 0; i < m; i++) {
                const REAL *x = X + idx[i] * D + d;
                const vec s = splat(G[i * K + c]);
                a0 = vmuladd(s, load(x), a0);
                a1 = vmuladd(s, load(x + VL), a1);
            }
            store(gW + c * D + d, a0);
            store(gW + c * D + d + VL, a1);
        }
    }
    for (int64_t c = 0; c < K; c++)
        for (int64_t d = Dg; d < D; d++) {
            REAL t = 0;
            for (int64_t i = 0; i < m; i++)
                t = muladd(G[i * K + c], X[idx[i] * D + d], t);
            gW[c * D + d] = t;
        }
}

/* G[i K + c] = f (softmax(S[i, :K] + b) - T)[c], T[c] = on for the label, off for every other class (as
   helpers.model.targets rounds them: one-hot gives on = 1, off = 0, and p - 0 is p); copies S[i, K:] to
   prev[i] first (if prev). */
static void batch_softmax(REAL *S, int64_t C, int64_t K, int64_t m, const REAL *b, const int64_t *labels,
                          const int64_t *idx, REAL f, REAL on, REAL off, REAL *prev, REAL *G)
{
    for (int64_t i = 0; i < m; i++) {
        REAL *s = S + i * C;
        if (prev)
            memcpy(prev + i * K, s + K, K * sizeof(REAL));
        REAL mx = s[0] + b[0];
        for (int64_t c = 0; c < K; c++) {
            s[c] += b[c];
            if (s[c] > mx || s[c] != s[c])   /* a NaN score makes the row NaN, as in NumPy */
                mx = s[c];
        }
        REAL total = 0;
        for (int64_t c = 0; c < K; c++) {
            s[c] = (REAL)exp(s[c] - mx);
            total += s[c];
        }
        const int64_t label = labels[idx[i]];
        for (int64_t c = 0; c < K; c++) {
            const REAL p = s[c] / total - (c == label ? on : off);
            G[i * K + c] = p * f;
        }
    }
}

#define CONCAT2(a, b) a##b
#define CONCAT(a, b) CONCAT2(a, b)

/* The epoch of both entry points: rows read in place from X, or (U given) decoded from the pixels U
   as the scores read them, into a buffer the gradient then reads: the same operations on the same
   values as X's rows would get. */
static int epoch(const REAL *X, const uint8_t *U, const REAL *mean, const REAL *std, int64_t D,
                 const int64_t *labels, const int64_t *perm, int64_t n, int64_t n_batch, REAL *Wc, REAL *b,
                 int64_t K, double eta, double lam, double smooth, REAL *scores)
{
    const int64_t C = 2 * K;
    /* NumPy's (1 - smooth) * Y + smooth / K in REAL: each factor rounded to REAL, then the sum */
    const REAL off = smooth != 0 ? (REAL)(smooth / (double)K) : 0;
    const REAL on = smooth != 0 ? (REAL)(1.0 - smooth) + off : 1;
    if (n <= 0)
        return 0;
    if (n_batch > n)   /* one batch of all rows; and the buffers below stay as small as the data */
        n_batch = n;
    REAL *S = malloc(sizeof(REAL) * n_batch * C);
    REAL *G = malloc(sizeof(REAL) * n_batch * K);
    REAL *gW = malloc(sizeof(REAL) * K * D);
    REAL *Xb = U ? malloc(sizeof(REAL) * n_batch * D) : NULL;
    int64_t *in_order = U ? malloc(sizeof(int64_t) * n_batch) : NULL;
    if (!S || !G || !gW || (U && (!Xb || !in_order))) {
        free(S); free(G); free(gW); free(Xb); free(in_order);
        return -1;
    }
    if (U)
        for (int64_t i = 0; i < n_batch; i++)
            in_order[i] = i;
    const REAL decay = (REAL)(1.0 - 2.0 * eta * lam);
    for (int64_t start = 0; start < n; start += n_batch) {
        const int64_t m = n - start < n_batch ? n - start : n_batch;
        const int64_t *idx = perm + start;
        const rows_t src = {X, U, mean, std, Xb};
        batch_scores(src, D, idx, m, Wc, C, S);
        batch_softmax(S, C, K, m, b, labels, idx, (REAL)(eta / (double)m), on, off, scores ? scores + start * K : NULL, G);
        batch_gradient(U ? Xb : X, D, U ? in_order : idx, m, G, K, gW);
        for (int64_t c = 0; c < K; c++) {
            REAL *w = Wc + c * D;
            const REAL *g = gW + c * D;
            if (lam != 0)
                for (int64_t d = 0; d < D; d++)
                    w[d] = muladd(w[d], decay, -g[d]);
            else
                for (int64_t d = 0; d < D; d++)
                    w[d] -= g[d];
        }
        for (int64_t c = 0; c < K; c++) {
            REAL t = 0;
            for (int64_t i = 0; i < m; i++)
                t += G[i * K + c];
            b[c] -= t;
        }
    }
    free(S); free(G); free(gW); free(Xb); free(in_order);
    return 0;
}

/*
 * One epoch over the rows perm[0..n) of X in mini-batches of n_batch; see
 * helpers/compiled_epoch.py. Returns 0, or -1 if the work buffers could not be allocated.
 */
int CONCAT(fused_epoch_, SUFFIX)(const REAL *X, int64_t D, const int64_t *labels, const int64_t *perm,
                                 int64_t n, int64_t n_batch, REAL *Wc, REAL *b, int64_t K,
                                 double eta, double lam, double smooth, REAL *scores)
{
    return epoch(X, NULL, NULL, NULL, D, labels, perm, n, n_batch, Wc, b, K, eta, lam, smooth, scores);
}

/*
 * The same epoch over images stored as uint8 pixels U (N, D), each mini-batch's rows decoded
 * (decode_vec; mean and std NULL: pixels scaled to [0, 1] only) as they are read.
 */
int CONCAT(fused_epoch_pixels_, SUFFIX)(const uint8_t *U, const REAL *mean, const REAL *std, int64_t D,
                                        const int64_t *labels, const int64_t *perm, int64_t n, int64_t n_batch,
                                        REAL *Wc, REAL *b, int64_t K, double eta, double lam, double smooth,
                                        REAL *scores)
{
    return epoch(NULL, U, mean, std, D, labels, perm, n, n_batch, Wc, b, K, eta, lam, smooth, scores);
}
