/* A fake CUDA driver for the "driver present, no device" test: built at
 * test time with `cc -shared -fPIC -o libcuda.so.1` and put first on
 * LD_LIBRARY_PATH of a child process. cudarc 0.19 (dynamic-loading)
 * resolves driver symbols lazily, one at a time, so only the functions the
 * probe calls need to exist: cuInit fails with CUDA_ERROR_NO_DEVICE (100)
 * and the two error-string functions let cudarc format that error. Every
 * other symbol is absent on purpose: if the probe ever calls one, cudarc
 * panics ("Missing symbol") and the plugin must still report it cleanly. */
typedef int CUresult;
#define CUDA_ERROR_NO_DEVICE 100

CUresult cuInit(unsigned int flags) {
    (void)flags;
    return CUDA_ERROR_NO_DEVICE;
}

CUresult cuGetErrorString(CUresult error, const char **str) {
    *str = error == CUDA_ERROR_NO_DEVICE ? "no CUDA-capable device is detected"
                                         : "stub libcuda: unknown error";
    return 0;
}

CUresult cuGetErrorName(CUresult error, const char **str) {
    *str = error == CUDA_ERROR_NO_DEVICE ? "CUDA_ERROR_NO_DEVICE" : "CUDA_ERROR_UNKNOWN";
    return 0;
}
