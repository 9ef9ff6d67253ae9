// Spectral front end of the CUDA backend for one batch of analysis windows:
// framing + window + DFT power, filterbank, log, normalisation. The tables
// (analysis window, filterbank matrix, statistics) come from the host, which
// builds them with libdfd's own front-end code, so the definitions cannot
// drift; these kernels only do the arithmetic. Grid-stride loops, no shared
// memory (see ops.cu).

// spec[b, t, k] = |sum_n xpad[b, t*hop + n] * win[n] * e^{-2 pi i k n / n_fft}|^power
// xpad is the window x[b, 0..len) padded by `pad` on each side (pad_mode 0:
// zeros, 1: numpy "reflect"). twiddle_cos/sin[j] = cos/sin(2 pi j / n_fft).
// f64 accumulation, as the CPU front end (and librosa) compute the STFT in f64.
extern "C" __global__ void stft_power(const float* x, const double* win,
    const double* twiddle_cos, const double* twiddle_sin, float* spec,
    int batch, int len, int n_fft, int hop, int pad, int pad_mode, int frames,
    int bins, int power) {
    int total = batch * frames * bins;
    for (int i = DFD_GLOBAL_TID; i < total; i += DFD_STRIDE) {
        int k = i % bins;
        int t = (i / bins) % frames;
        int b = i / (bins * frames);
        const float* xb = x + (long long)b * len;
        double re = 0.0, im = 0.0;
        int j = 0;  // (k * n) mod n_fft, kept incrementally
        for (int n = 0; n < n_fft; ++n) {
            int p = t * hop + n - pad;  // index into the unpadded window
            float s;
            if (p >= 0 && p < len) {
                s = xb[p];
            } else if (pad_mode == 1) {
                int q = p < 0 ? -p : 2 * (len - 1) - p;
                s = xb[q];
            } else {
                s = 0.0f;
            }
            double v = (double)s * win[n];
            re += v * twiddle_cos[j];
            im -= v * twiddle_sin[j];
            j += k;
            if (j >= n_fft) j -= n_fft;
        }
        double pw = re * re + im * im;
        spec[i] = (float)(power == 2 ? pw : sqrt(pw));
    }
}

// out[b, r, t] = sum_k fb[r, k] * spec[b, t, k]  (frequency-major output).
extern "C" __global__ void filterbank_apply(const float* spec, const float* fb, float* out,
    int batch, int frames, int bins, int rows) {
    int total = batch * rows * frames;
    for (int i = DFD_GLOBAL_TID; i < total; i += DFD_STRIDE) {
        int t = i % frames;
        int r = (i / frames) % rows;
        int b = i / (frames * rows);
        const float* s = spec + ((long long)b * frames + t) * bins;
        const float* w = fb + (long long)r * bins;
        float acc = 0.0f;
        for (int k = 0; k < bins; ++k) acc += w[k] * s[k];
        out[i] = acc;
    }
}

// No filterbank: out[b, k, t] = spec[b, t, k].
extern "C" __global__ void spec_transpose(const float* spec, float* out, int batch,
    int frames, int bins) {
    int total = batch * bins * frames;
    for (int i = DFD_GLOBAL_TID; i < total; i += DFD_STRIDE) {
        int t = i % frames;
        int k = (i / frames) % bins;
        int b = i / (frames * bins);
        out[i] = spec[((long long)b * frames + t) * bins + k];
    }
}

// In place on [batch, rows, frames]: v = log(max(v, floor) + offset) (log_kind
// 0 none, 1 ln, 2 log10; has_floor 0/1), then (v - mean[r]) / std[r].
extern "C" __global__ void log_normalize(float* x, const float* mean, const float* std,
    int batch, int rows, int frames, int log_kind, float offset, int has_floor,
    float floor_v) {
    int total = batch * rows * frames;
    for (int i = DFD_GLOBAL_TID; i < total; i += DFD_STRIDE) {
        int r = (i / frames) % rows;
        float v = x[i];
        if (has_floor) v = v > floor_v ? v : floor_v;
        if (log_kind == 1) v = logf(v + offset);
        else if (log_kind == 2) v = log10f(v + offset);
        x[i] = (v - mean[r]) / std[r];
    }
}
