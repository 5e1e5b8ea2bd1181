/*
 * One pass over a contiguous float32 or float64 buffer for the statistics of
 * a probed output: sum and sum of squares (in double, around a shift), min,
 * max and the count of zeros.
 *
 * Stock torch kernels need four or five passes for the same numbers
 * (aminmax, sum, vector_norm, count_nonzero); this is the step that keeps a
 * probed run close to a plain forward on the CPU. It does not look for NaN
 * or inf: the caller sees them in the result (a sum that is not finite, or a
 * min/max that is not) and takes the exact masked path instead.
 *
 * Python: stats(address, count, itemsize, threads, route=0,
 *               sample_address=0, sample_step=1, sample_count=0) ->
 *         (shifted_sum, shifted_sum_of_squares, shift, min, max, zeros)
 * The float32 pass has a plain C route and hand-vectorised AVX2 and AVX-512
 * routes; route 0 takes the fastest the CPU has, routes() lists them.
 * The values summed are x - shift, with shift the first element, so the
 * variance keeps its precision when the mean is large against the spread.
 * The GIL is released while the pass runs. Given a buffer for it, the same
 * call copies every sample_step-th value out as a sample for a histogram,
 * while that part of the data is still in cache; histogram() bins it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* Partial sums are added per block, so rounding grows with the block size
 * plus the number of blocks, not with the element count. */
#define BLOCK 2048
/* Below this many elements a second thread costs more than it saves. */
#define PARALLEL_MIN (1 << 18)
#define MAX_THREADS 64

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

#if defined(__GNUC__) && defined(__x86_64__)
#define FUSED_AVX2 1
#include <immintrin.h>
#else
#define FUSED_AVX2 0
#endif

typedef struct {
    const void *data;
    int64_t begin, end;
    double shift;
    double sum, squares, low, high;
    int64_t zeros;
} Part;

/* The plain C pass, for float (float32) and double (float64) data; the
 * compiler vectorises it as far as it can (one accumulator chain). */
#define PLAIN_PASS(NAME, TYPE)                                                                          \
    VECTOR_CLONES                                                                                       \
    static void NAME(Part *p)                                                                           \
    {                                                                                                   \
        const TYPE *x = (const TYPE *)p->data;                                                          \
        const double shift = p->shift;                                                                  \
        double sum = 0, squares = 0;                                                                    \
        TYPE low = x[p->begin], high = x[p->begin];                                                     \
        int64_t zeros = 0;                                                                              \
        for (int64_t b = p->begin; b < p->end; b += BLOCK) {                                            \
            int64_t e = b + BLOCK < p->end ? b + BLOCK : p->end;                                        \
            double bsum = 0, bsquares = 0;                                                              \
            int32_t bzeros = 0;                                                                         \
            TYPE blow = low, bhigh = high;                                                              \
            _Pragma("omp simd reduction(+ : bsum, bsquares, bzeros) reduction(min : blow) reduction(max : bhigh)") \
            for (int64_t i = b; i < e; i++) {                                                           \
                TYPE v = x[i];                                                                          \
                double d = (double)v - shift;                                                           \
                bsum += d;                                                                              \
                bsquares += d * d;                                                                      \
                blow = v < blow ? v : blow;                                                             \
                bhigh = v > bhigh ? v : bhigh;                                                          \
                bzeros += (v == 0);                                                                     \
            }                                                                                           \
            sum += bsum;                                                                                \
            squares += bsquares;                                                                        \
            zeros += bzeros;                                                                            \
            low = blow;                                                                                 \
            high = bhigh;                                                                               \
        }                                                                                               \
        p->sum = sum;                                                                                   \
        p->squares = squares;                                                                           \
        p->low = low;                                                                                   \
        p->high = high;                                                                                 \
        p->zeros = zeros;                                                                               \
    }

PLAIN_PASS(pass_f32_generic, float)
PLAIN_PASS(pass_f64, double)

#if FUSED_AVX2
/* How many floats ahead the vector passes ask for the next cache line. The
 * hardware prefetcher alone does not keep up with a loop this dense: a 13 MB
 * output just written (in L3) is read at ~9 GB/s without it and ~20 GB/s with
 * it on the machine of bench/RESULTS.md. A prefetch never faults, so asking
 * past the end of the buffer is harmless. */
#define PREFETCH_AHEAD 1024

/* The values after the last whole vector step, one at a time, then the part's results. */
static void finish_f32(Part *p, const float *x, int64_t i, int64_t n, double sum, double square, float low,
                       float high, int64_t zeros)
{
    for (; i < n; i++) {
        float v = x[i];
        double d = (double)v - p->shift;
        sum += d;
        square += d * d;
        low = v < low ? v : low;
        high = v > high ? v : high;
        zeros += (v == 0.0f);
    }
    p->sum = sum;
    p->squares = square;
    p->low = low;
    p->high = high;
    p->zeros = zeros;
}

/* The same pass by hand for AVX2 + FMA: 16 floats a step, widened to double
 * straight from memory (four 128-bit loads, no lane extracts), summed in two
 * chains of pair sums and squared in four FMA chains, so the adds do not wait
 * on each other. Every accumulator stays in a register: the 16 ymm registers
 * are the budget (one more min/max or sum chain spills and runs ~1.7x slower). */
__attribute__((target("avx2,fma")))
static void pass_f32_avx2(Part *p)
{
    const float *x = (const float *)p->data + p->begin;
    const int64_t n = p->end - p->begin;
    const __m256d shift = _mm256_set1_pd(p->shift);
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    __m256d q0 = s0, q1 = s0, q2 = s0, q3 = s0;
    __m256 low = _mm256_set1_ps(x[0]), high = low;
    int64_t zeros = 0, i = 0;
    const int64_t whole = n & ~(int64_t)15;
    while (i < whole) {
        /* 32-bit zero counters (two a step), emptied before they could overflow */
        int64_t stop = i + ((int64_t)1 << 24) < whole ? i + ((int64_t)1 << 24) : whole;
        __m256i z = _mm256_setzero_si256();
        for (; i < stop; i += 16) {
            _mm_prefetch((const char *)(x + i + PREFETCH_AHEAD), _MM_HINT_T0);
            __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
            low = _mm256_min_ps(low, _mm256_min_ps(a, b));
            high = _mm256_max_ps(high, _mm256_max_ps(a, b));
            z = _mm256_sub_epi32(z, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_EQ_OQ)));
            z = _mm256_sub_epi32(z, _mm256_castps_si256(_mm256_cmp_ps(b, _mm256_setzero_ps(), _CMP_EQ_OQ)));
            __m256d a0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), shift);
            __m256d a1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)), shift);
            __m256d b0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 8)), shift);
            __m256d b1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 12)), shift);
            s0 = _mm256_add_pd(s0, _mm256_add_pd(a0, a1));
            s1 = _mm256_add_pd(s1, _mm256_add_pd(b0, b1));
            q0 = _mm256_fmadd_pd(a0, a0, q0);
            q1 = _mm256_fmadd_pd(a1, a1, q1);
            q2 = _mm256_fmadd_pd(b0, b0, q2);
            q3 = _mm256_fmadd_pd(b1, b1, q3);
        }
        int32_t counts[8];
        _mm256_storeu_si256((__m256i *)counts, z);
        for (int j = 0; j < 8; j++)
            zeros += (uint32_t)counts[j];
    }
    double sums[4], squares[4];
    float lows[8], highs[8];
    _mm256_storeu_pd(sums, _mm256_add_pd(s0, s1));
    _mm256_storeu_pd(squares, _mm256_add_pd(_mm256_add_pd(q0, q1), _mm256_add_pd(q2, q3)));
    _mm256_storeu_ps(lows, low);
    _mm256_storeu_ps(highs, high);
    double sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
    double square = (squares[0] + squares[1]) + (squares[2] + squares[3]);
    float lo = lows[0], hi = highs[0];
    for (int j = 1; j < 8; j++) {
        lo = lows[j] < lo ? lows[j] : lo;
        hi = highs[j] > hi ? highs[j] : hi;
    }
    finish_f32(p, x, i, n, sum, square, lo, hi, zeros);
}

/* AVX-512: 32 floats a step, the zero count from compare masks. */
__attribute__((target("avx512f,avx512dq,popcnt")))
static void pass_f32_avx512(Part *p)
{
    const float *x = (const float *)p->data + p->begin;
    const int64_t n = p->end - p->begin;
    const __m512d shift = _mm512_set1_pd(p->shift);
    const __m512 zero = _mm512_setzero_ps();
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    __m512d q0 = s0, q1 = s0, q2 = s0, q3 = s0;
    __m512 low0 = _mm512_set1_ps(x[0]), low1 = low0, high0 = low0, high1 = low0;
    int64_t zeros = 0, i = 0;
    const int64_t whole = n & ~(int64_t)31;
    for (; i < whole; i += 32) {
        _mm_prefetch((const char *)(x + i + PREFETCH_AHEAD), _MM_HINT_T0);
        _mm_prefetch((const char *)(x + i + PREFETCH_AHEAD + 16), _MM_HINT_T0);
        __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        low0 = _mm512_min_ps(low0, a);
        high0 = _mm512_max_ps(high0, a);
        low1 = _mm512_min_ps(low1, b);
        high1 = _mm512_max_ps(high1, b);
        zeros += __builtin_popcount(_mm512_cmp_ps_mask(a, zero, _CMP_EQ_OQ))
               + __builtin_popcount(_mm512_cmp_ps_mask(b, zero, _CMP_EQ_OQ));
        __m512d a0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(a)), shift);
        __m512d a1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1))), shift);
        __m512d b0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(b)), shift);
        __m512d b1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(b), 1))), shift);
        s0 = _mm512_add_pd(s0, a0);
        s1 = _mm512_add_pd(s1, a1);
        s2 = _mm512_add_pd(s2, b0);
        s3 = _mm512_add_pd(s3, b1);
        q0 = _mm512_fmadd_pd(a0, a0, q0);
        q1 = _mm512_fmadd_pd(a1, a1, q1);
        q2 = _mm512_fmadd_pd(b0, b0, q2);
        q3 = _mm512_fmadd_pd(b1, b1, q3);
    }
    double sum = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
    double square = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(q0, q1), _mm512_add_pd(q2, q3)));
    float low = _mm512_reduce_min_ps(_mm512_min_ps(low0, low1));
    float high = _mm512_reduce_max_ps(_mm512_max_ps(high0, high1));
    finish_f32(p, x, i, n, sum, square, low, high, zeros);
}
#endif

enum { ROUTE_AUTO, ROUTE_GENERIC, ROUTE_AVX2, ROUTE_AVX512 };

static int has_route(int route)
{
#if FUSED_AVX2
    if (route == ROUTE_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    if (route == ROUTE_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return route == ROUTE_GENERIC;
}

static int best_route(void)
{
    return has_route(ROUTE_AVX512) ? ROUTE_AVX512 : has_route(ROUTE_AVX2) ? ROUTE_AVX2 : ROUTE_GENERIC;
}

static void pass_f32(Part *p, int route)
{
#if FUSED_AVX2
    if (route == ROUTE_AVX512) {
        pass_f32_avx512(p);
        return;
    }
    if (route == ROUTE_AVX2) {
        pass_f32_avx2(p);
        return;
    }
#endif
    pass_f32_generic(p);
}

static void pass_any(Part *p, int itemsize, int route)
{
    if (itemsize == 4)
        pass_f32(p, route);
    else
        pass_f64(p);
}

/* Adds ``from``'s results to ``into``'s. NaN never wins a comparison, so a NaN
 * low or high stays only where ``into`` began with one; its sum is NaN then
 * too, and the caller takes the exact path. */
static void add_part(Part *into, const Part *from)
{
    into->sum += from->sum;
    into->squares += from->squares;
    into->zeros += from->zeros;
    if (from->low < into->low)
        into->low = from->low;
    if (from->high > into->high)
        into->high = from->high;
}

/* One part's pass, and its share of the histogram sample. With a sample to
 * take, the part goes in pieces of SAMPLE_PIECE values and each piece's
 * sample values are copied right after its pass, from L1; copied after the
 * whole part, every value would be a cache miss (~10% of the pass). */
#define SAMPLE_PIECE (1 << 14)
static void run_part(Part *part, int itemsize, int route, const void *data, unsigned long long sample_address,
                     long long sample_step, long long sample_count)
{
    if (sample_count == 0) {
        pass_any(part, itemsize, route);
        return;
    }
    /* Start from the part's first value, as each pass does. */
    part->sum = part->squares = 0;
    part->zeros = 0;
    part->low = part->high = itemsize == 4 ? (double)((const float *)data)[part->begin]
                                           : ((const double *)data)[part->begin];
    int64_t k = (part->begin + sample_step - 1) / sample_step;
    for (int64_t b = part->begin; b < part->end; b += SAMPLE_PIECE) {
        Part piece = *part;
        piece.begin = b;
        piece.end = b + SAMPLE_PIECE < part->end ? b + SAMPLE_PIECE : part->end;
        pass_any(&piece, itemsize, route);
        add_part(part, &piece);
        for (; k < sample_count && k * sample_step < piece.end; k++) {
            if (itemsize == 4)
                ((float *)(uintptr_t)sample_address)[k] = ((const float *)data)[k * sample_step];
            else
                ((double *)(uintptr_t)sample_address)[k] = ((const double *)data)[k * sample_step];
        }
    }
}

static PyObject *fused_stats(PyObject *self, PyObject *args)
{
    unsigned long long address;
    long long count;
    int itemsize, threads, route = ROUTE_AUTO;
    unsigned long long sample_address = 0;
    long long sample_step = 1, sample_count = 0;
    if (!PyArg_ParseTuple(args, "KLii|iKLL", &address, &count, &itemsize, &threads, &route, &sample_address,
                          &sample_step, &sample_count))
        return NULL;
    if (sample_count < 0 || sample_step < 1 || (sample_count > 0 && (sample_address == 0 ||
                                                                    (sample_count - 1) * sample_step >= count))) {
        PyErr_SetString(PyExc_ValueError, "the sample must lie inside the buffer");
        return NULL;
    }
    if (route == ROUTE_AUTO)
        route = best_route();
    else if (!has_route(route)) {
        PyErr_SetString(PyExc_ValueError, "this CPU (or this build) has no such route");
        return NULL;
    }
    if (itemsize != 4 && itemsize != 8) {
        PyErr_SetString(PyExc_ValueError, "itemsize must be 4 (float32) or 8 (float64)");
        return NULL;
    }
    if (count <= 0 || address == 0) {
        PyErr_SetString(PyExc_ValueError, "an empty buffer has no statistics");
        return NULL;
    }
    if (threads < 1 || count < PARALLEL_MIN)
        threads = 1;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;

    const void *data = (const void *)(uintptr_t)address;
    double shift = itemsize == 4 ? (double)((const float *)data)[0] : ((const double *)data)[0];
    Part parts[MAX_THREADS];
    int64_t chunk = (count + threads - 1) / threads;
    chunk = (chunk + BLOCK - 1) / BLOCK * BLOCK;
    int used = 0;
    for (int t = 0; t < threads; t++) {
        int64_t begin = (int64_t)t * chunk;
        if (begin >= count)
            break;
        int64_t end = begin + chunk < count ? begin + chunk : count;
        parts[t] = (Part){data, begin, end, shift, 0, 0, 0, 0, 0};
        used++;
    }

    Py_BEGIN_ALLOW_THREADS
    if (used == 1) {
        run_part(&parts[0], itemsize, route, data, sample_address, sample_step, sample_count);
    } else {
    /* torch is imported first and its libgomp.so.1 is the one this module
     * binds to, so these are torch's own (already awake) worker threads. */
#pragma omp parallel for num_threads(used) schedule(static, 1)
        for (int t = 0; t < used; t++)
            run_part(&parts[t], itemsize, route, data, sample_address, sample_step, sample_count);
    }
    Py_END_ALLOW_THREADS

    for (int t = 1; t < used; t++)
        add_part(&parts[0], &parts[t]);
    return Py_BuildValue("(dddddL)", parts[0].sum, parts[0].squares, shift, parts[0].low, parts[0].high,
                         (long long)parts[0].zeros);
}

/* Counts of values in BINS equal bins over [low, high], exactly as
 * np.histogram(values, bins=BINS, range=(low, high)) counts them: values
 * outside the range (NaN, inf) are left out, the last bin is closed, and an
 * index found by scaling is corrected against the edges as np.linspace makes
 * them (i * step + low; the last edge is high). This file is compiled with
 * -ffp-contract=off so those products and sums round as numpy's do. */
static PyObject *fused_histogram(PyObject *self, PyObject *args)
{
    unsigned long long address, counts_address;
    long long count;
    int itemsize, bins;
    double low, high;
    if (!PyArg_ParseTuple(args, "KLiddiK", &address, &count, &itemsize, &low, &high, &bins, &counts_address))
        return NULL;
    if ((itemsize != 4 && itemsize != 8) || bins < 1 || !(high > low) || counts_address == 0 ||
        (count > 0 && address == 0)) {
        PyErr_SetString(PyExc_ValueError, "histogram needs float32/float64 values, bins >= 1 and low < high");
        return NULL;
    }
    int64_t *counts = (int64_t *)(uintptr_t)counts_address;
    const double span = high - low, step = span / bins;
    Py_BEGIN_ALLOW_THREADS
    for (int64_t i = 0; i < count; i++) {
        double v = itemsize == 4 ? (double)((const float *)(uintptr_t)address)[i]
                                 : ((const double *)(uintptr_t)address)[i];
        if (!(v >= low && v <= high))
            continue;
        int64_t index = (int64_t)(((v - low) / span) * bins);
        if (index >= bins)
            index = bins - 1;
        if (v < (double)index * step + low)
            index--;
        double upper = index + 1 == bins ? high : (double)(index + 1) * step + low;
        if (v >= upper && index != bins - 1)
            index++;
        counts[index]++;
    }
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *fused_routes(PyObject *self, PyObject *unused)
{
    PyObject *names = PyDict_New();
    const char *labels[] = {NULL, "generic", "avx2", "avx512"};
    if (names == NULL)
        return NULL;
    for (int route = ROUTE_GENERIC; route <= ROUTE_AVX512; route++) {
        if (!has_route(route))
            continue;
        PyObject *value = PyLong_FromLong(route);
        if (value == NULL || PyDict_SetItemString(names, labels[route], value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(names);
            return NULL;
        }
        Py_DECREF(value);
    }
    return names;
}

static PyMethodDef methods[] = {
    {"stats", fused_stats, METH_VARARGS,
     "stats(address, count, itemsize, threads, route=0) -> (shifted_sum, shifted_squares, shift, min, max, zeros)\n"
     "route 0 picks the fastest this CPU has; routes() names the others (float32 only)."},
    {"histogram", fused_histogram, METH_VARARGS,
     "histogram(address, count, itemsize, low, high, bins, counts_address): add np.histogram's counts "
     "of the values into an int64 array of bins"},
    {"routes", fused_routes, METH_NOARGS, "routes() -> {name: route} for the float32 passes this CPU can run"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fused", "One-pass statistics of a float buffer.", -1, methods,
};

PyMODINIT_FUNC PyInit__fused(void)
{
    return PyModule_Create(&module);
}
