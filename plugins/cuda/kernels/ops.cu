// Inference ops of the CUDA backend (the default detector's op set).
// Every kernel is a grid-stride loop, one output element per iteration, with
// no shared memory and no __syncthreads: simple, and runnable unchanged on
// the CPU through tests/shim/cuda_shim.h for the CPU verification.
// Weights may be fp16 storage ("_f16w" variants); all arithmetic is fp32.

#define DFD_W_F32(p, i) ((p)[i])
#define DFD_W_F16(p, i) dfd_h2f((p)[i])

// y[o] = mean(x[o*inner .. (o+1)*inner]) (ReduceMean over trailing axes).
extern "C" __global__ void reduce_mean_f32(const float* x, float* y, int outer, int inner) {
    for (int o = DFD_GLOBAL_TID; o < outer; o += DFD_STRIDE) {
        double s = 0.0;
        const float* p = x + (long long)o * inner;
        for (int i = 0; i < inner; ++i) s += p[i];
        y[o] = (float)(s / inner);
    }
}

// Binary op with b broadcast: b index = (i / inner) % bn.
// op: 0 add, 1 sub, 2 mul.
#define DFD_BINARY(NAME, BT, LOADB)                                                   \
extern "C" __global__ void NAME(const float* a, const BT* b, float* y, int n,         \
                                int inner, int bn, int op) {                          \
    for (int i = DFD_GLOBAL_TID; i < n; i += DFD_STRIDE) {                            \
        float bv = LOADB(b, (i / inner) % bn);                                        \
        float av = a[i];                                                              \
        y[i] = op == 0 ? av + bv : (op == 1 ? av - bv : av * bv);                     \
    }                                                                                 \
}
DFD_BINARY(binary_f32, float, DFD_W_F32)
DFD_BINARY(binary_f16b, dfd_half, DFD_W_F16)

extern "C" __global__ void relu_f32(const float* x, float* y, int n) {
    for (int i = DFD_GLOBAL_TID; i < n; i += DFD_STRIDE) {
        float v = x[i];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

extern "C" __global__ void cast_f16_f32(const dfd_half* x, float* y, int n) {
    for (int i = DFD_GLOBAL_TID; i < n; i += DFD_STRIDE) y[i] = dfd_h2f(x[i]);
}

// NCHW 2-D convolution, groups = 1. w: [K, C, KH, KW], bias: [K] or NULL
// (has_bias = 0). One output element per iteration; the accumulation order
// (c, kh, kw) follows the weight layout.
#define DFD_CONV(NAME, WT, LOADW)                                                     \
extern "C" __global__ void NAME(const float* x, const WT* w, const WT* bias, float* y,\
    int N, int C, int H, int W, int K, int KH, int KW, int OH, int OW,                \
    int sh, int sw, int ph, int pw, int dh, int dw, int has_bias) {                   \
    int total = N * K * OH * OW;                                                      \
    for (int i = DFD_GLOBAL_TID; i < total; i += DFD_STRIDE) {                        \
        int ow = i % OW;                                                              \
        int oh = (i / OW) % OH;                                                       \
        int k = (i / (OW * OH)) % K;                                                  \
        int n = i / (OW * OH * K);                                                    \
        float acc = has_bias ? LOADW(bias, k) : 0.0f;                                 \
        for (int c = 0; c < C; ++c) {                                                 \
            const float* xp = x + ((long long)n * C + c) * H * W;                     \
            int wbase = (k * C + c) * KH * KW;                                        \
            for (int r = 0; r < KH; ++r) {                                            \
                int ih = oh * sh - ph + r * dh;                                       \
                if (ih < 0 || ih >= H) continue;                                      \
                for (int s = 0; s < KW; ++s) {                                        \
                    int iw = ow * sw - pw + s * dw;                                   \
                    if (iw < 0 || iw >= W) continue;                                  \
                    acc += xp[ih * W + iw] * LOADW(w, wbase + r * KW + s);            \
                }                                                                     \
            }                                                                         \
        }                                                                             \
        y[i] = acc;                                                                   \
    }                                                                                 \
}
DFD_CONV(conv2d_f32, float, DFD_W_F32)
DFD_CONV(conv2d_f16w, dfd_half, DFD_W_F16)

// NCHW max pooling; padded cells are ignored (ONNX semantics).
extern "C" __global__ void maxpool2d_f32(const float* x, float* y, int NC, int H, int W,
    int KH, int KW, int sh, int sw, int ph, int pw, int OH, int OW) {
    int total = NC * OH * OW;
    for (int i = DFD_GLOBAL_TID; i < total; i += DFD_STRIDE) {
        int ow = i % OW;
        int oh = (i / OW) % OH;
        int nc = i / (OW * OH);
        const float* xp = x + (long long)nc * H * W;
        float m = -3.402823466e38f;
        for (int r = 0; r < KH; ++r) {
            int ih = oh * sh - ph + r;
            if (ih < 0 || ih >= H) continue;
            for (int s = 0; s < KW; ++s) {
                int iw = ow * sw - pw + s;
                if (iw < 0 || iw >= W) continue;
                float v = xp[ih * W + iw];
                m = v > m ? v : m;
            }
        }
        y[i] = m;
    }
}

// y[nc] = mean of the nc-th plane of hw values.
extern "C" __global__ void global_avg_pool_f32(const float* x, float* y, int NC, int HW) {
    for (int i = DFD_GLOBAL_TID; i < NC; i += DFD_STRIDE) {
        const float* p = x + (long long)i * HW;
        float s = 0.0f;
        for (int j = 0; j < HW; ++j) s += p[j];
        y[i] = s / (float)HW;
    }
}

// y[M, N] = a[M, K] @ b[K, N] (b: weights, row-major as ONNX stores them).
#define DFD_MATMUL(NAME, BT, LOADB)                                                   \
extern "C" __global__ void NAME(const float* a, const BT* b, float* y, int M, int K, int N) { \
    int total = M * N;                                                                \
    for (int i = DFD_GLOBAL_TID; i < total; i += DFD_STRIDE) {                        \
        int col = i % N;                                                              \
        int row = i / N;                                                              \
        const float* ap = a + (long long)row * K;                                     \
        float acc = 0.0f;                                                             \
        for (int k = 0; k < K; ++k) acc += ap[k] * LOADB(b, k * N + col);             \
        y[i] = acc;                                                                   \
    }                                                                                 \
}
DFD_MATMUL(matmul_f32, float, DFD_W_F32)
DFD_MATMUL(matmul_f16w, dfd_half, DFD_W_F16)
