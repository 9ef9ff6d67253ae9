/* The C API's contract, exercised from C: every error case gets its own
 * status and message, rejected pushes leave the stream usable, NULL is
 * checked everywhere. Run by tests/c_programs.rs (under valgrind when
 * available). Usage: api_test FIXTURES_DIR PLUGIN_DIR BAD_PLUGIN_DIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfd.h"

static int failures = 0;
#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n",         \
              __FILE__, __LINE__, #cond, dfd_last_error());                \
      failures++;                                                          \
    }                                                                      \
  } while (0)
#define EXPECT(call, status) CHECK((call) == (status))
#define ERROR_MENTIONS(text) CHECK(strstr(dfd_last_error(), (text)) != NULL)

static char path_buf[4096];
static const char *path(const char *dir, const char *rel) {
  snprintf(path_buf, sizeof path_buf, "%s/%s", dir, rel);
  return path_buf;
}

static int log_calls = 0;
static void on_log(int32_t level, const char *msg, void *user) {
  (void)level;
  (void)msg;
  *(int *)user += 1;
}

static unsigned char *slurp(const char *file, size_t *len) {
  FILE *f = fopen(file, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(*len);
  if (fread(buf, 1, *len, f) != *len) { free(buf); buf = NULL; }
  fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s FIXTURES PLUGIN_DIR BAD_PLUGIN_DIR\n", argv[0]);
    return 2;
  }
  const char *fx = argv[1], *plugins = argv[2], *bad_plugins = argv[3];

  /* Versions and status strings. */
  CHECK(dfd_abi_version() == DFD_ABI_VERSION);
  CHECK(strcmp(dfd_version(), DFD_VERSION_STRING) == 0);
  CHECK(DFD_OK == 0);
  CHECK(strcmp(dfd_status_str(DFD_OK), "ok") == 0);
  CHECK(strlen(dfd_status_str(DFD_ERR_BAD_SAMPLES)) > 0);
  CHECK(strcmp(dfd_status_str(-5), "unknown status") == 0);
  CHECK(strcmp(dfd_status_str(1000), "unknown status") == 0);

  EXPECT(dfd_set_log_callback(on_log, DFD_LOG_DEBUG, &log_calls), DFD_OK);
  EXPECT(dfd_set_log_callback(on_log, 42, &log_calls), DFD_ERR_INVALID_ARG);

  dfd_model_options opts;
  EXPECT(dfd_model_options_init(NULL), DFD_ERR_NULL_ARG);
  EXPECT(dfd_model_options_init(&opts), DFD_OK);
  opts.backend = "cpu";
  opts.plugin_dir = plugins;

  /* Model loading errors. */
  dfd_model *model = NULL;
  EXPECT(dfd_model_load(NULL, &opts, &model), DFD_ERR_NULL_ARG);
  EXPECT(dfd_model_load(path(fx, "models/tiny-mel"), &opts, NULL), DFD_ERR_NULL_ARG);
  ERROR_MENTIONS("out");
  EXPECT(dfd_model_load(path(fx, "models/missing.onnx"), &opts, &model), DFD_ERR_IO);
  EXPECT(dfd_model_load(path(fx, "models/truncated.onnx"), &opts, &model), DFD_ERR_MODEL_CORRUPT);
  ERROR_MENTIONS("truncated");
  EXPECT(dfd_model_load(path(fx, "models/not-onnx.onnx"), &opts, &model), DFD_ERR_MODEL_CORRUPT);
  EXPECT(dfd_model_load(path(fx, "models/no-manifest.onnx"), &opts, &model), DFD_ERR_MODEL_KIND);
  ERROR_MENTIONS("manifest");
  EXPECT(dfd_model_load(path(fx, "models/wrong-shape.onnx"), &opts, &model), DFD_ERR_MODEL_KIND);
  EXPECT(dfd_model_load(path(fx, "models/unsupported-op.onnx"), &opts, &model), DFD_ERR_MODEL_UNSUPPORTED);
  ERROR_MENTIONS("WaveletPool");
  CHECK(model == NULL); /* out-parameters are written only on success */

  dfd_model_options bad = opts;
  bad.precision = "int4";
  EXPECT(dfd_model_load(path(fx, "models/tiny-mel"), &bad, &model), DFD_ERR_INVALID_ARG);
  bad = opts;
  bad.precision = "int8";
  EXPECT(dfd_model_load(path(fx, "models/tiny-raw.onnx"), &bad, &model), DFD_ERR_PRECISION_UNAVAILABLE);
  bad = opts;
  bad.struct_size = 4;
  EXPECT(dfd_model_load(path(fx, "models/tiny-mel"), &bad, &model), DFD_ERR_INVALID_ARG);
  ERROR_MENTIONS("dfd_model_options_init");

  /* Plugins: missing, not a plugin, wrong ABI version. */
  bad = opts;
  bad.backend = "nosuch";
  EXPECT(dfd_model_load(path(fx, "models/tiny-mel"), &bad, &model), DFD_ERR_PLUGIN_NOT_FOUND);
  ERROR_MENTIONS("libdfd_backend_nosuch.so");
  bad.backend = "../evil";
  EXPECT(dfd_model_load(path(fx, "models/tiny-mel"), &bad, &model), DFD_ERR_INVALID_ARG);
  bad.plugin_dir = bad_plugins;
  bad.backend = "notaplugin";
  EXPECT(dfd_model_load(path(fx, "models/tiny-mel"), &bad, &model), DFD_ERR_PLUGIN_INCOMPATIBLE);
  ERROR_MENTIONS("not a libdfd backend plugin");
  bad.backend = "future";
  EXPECT(dfd_model_load(path(fx, "models/tiny-mel"), &bad, &model), DFD_ERR_PLUGIN_INCOMPATIBLE);
  ERROR_MENTIONS("ABI version 99");
  {
    char small[8];
    size_t full = dfd_last_error_copy(small, sizeof small);
    CHECK(full == strlen(dfd_last_error()));
    CHECK(strlen(small) == 7);
  }

  /* Backends list. */
  size_t nb = 0;
  EXPECT(dfd_list_backends(plugins, NULL, 0, &nb), DFD_OK);
  CHECK(nb >= 2);
  dfd_backend_info infos[16];
  EXPECT(dfd_list_backends(plugins, infos, 16, &nb), DFD_OK);
  int cpu_ok = 0;
  for (size_t i = 0; i < nb && i < 16; i++)
    if (strcmp(infos[i].name, "cpu") == 0 && infos[i].available) cpu_ok = 1;
  CHECK(cpu_ok);
  EXPECT(dfd_list_backends(plugins, NULL, 3, &nb), DFD_ERR_NULL_ARG);

  /* From memory: corrupt bytes, then the real model. */
  size_t len = 0;
  unsigned char *bytes = slurp(path(fx, "models/tiny-mel/model.fp32.onnx"), &len);
  CHECK(bytes != NULL);
  EXPECT(dfd_model_load_from_memory(NULL, len, &opts, &model), DFD_ERR_NULL_ARG);
  EXPECT(dfd_model_load_from_memory(bytes, len / 2, &opts, &model), DFD_ERR_MODEL_CORRUPT);
  EXPECT(dfd_model_load_from_memory(bytes, len, &opts, &model), DFD_OK);
  free(bytes);
  CHECK(model != NULL);
  CHECK(log_calls > 0);
  EXPECT(dfd_set_log_callback(NULL, 0, NULL), DFD_OK);

  dfd_model_info info;
  EXPECT(dfd_model_get_info(model, NULL), DFD_ERR_NULL_ARG);
  EXPECT(dfd_model_get_info(model, &info), DFD_OK);
  CHECK(info.sample_rate == 16000 && info.window == 16000 && info.hop == 8000);
  CHECK(strcmp(info.backend, "cpu") == 0);
  CHECK(strcmp(info.precision, "fp32") == 0);

  /* The built-in default model (cargo feature builtin-model, on by default). */
  dfd_model *builtin = NULL;
  EXPECT(dfd_model_load_builtin(&opts, NULL), DFD_ERR_NULL_ARG);
  EXPECT(dfd_model_load_builtin(&opts, &builtin), DFD_OK);
  EXPECT(dfd_model_get_info(builtin, &info), DFD_OK);
  CHECK(strcmp(info.name, "dfd-lfb-cnn-v2") == 0);
  CHECK(info.sample_rate == 16000 && info.window == 32000 && info.hop == 16000);
  CHECK(strcmp(info.precision, "fp32") == 0 && strcmp(info.backend, "cpu") == 0);
  dfd_model_free(builtin);
  /* The built-in models by name: the telephone model runs at 8 kHz. */
  builtin = NULL;
  EXPECT(dfd_model_load_builtin_named("telephone", &opts, &builtin), DFD_OK);
  EXPECT(dfd_model_get_info(builtin, &info), DFD_OK);
  CHECK(strcmp(info.name, "dfd-lfb-cnn-tel-v2") == 0);
  CHECK(info.sample_rate == 8000 && info.window == 16000 && info.hop == 8000);
  dfd_model_free(builtin);
  builtin = NULL;
  EXPECT(dfd_model_load_builtin_named(NULL, NULL, &builtin), DFD_OK);
  EXPECT(dfd_model_get_info(builtin, &info), DFD_OK);
  CHECK(strcmp(info.name, "dfd-lfb-cnn-v2") == 0);
  dfd_model_free(builtin);
  builtin = NULL;
  EXPECT(dfd_model_load_builtin_named("dfd-lfb-cnn-tel-v2", &opts, &builtin), DFD_OK);
  dfd_model_free(builtin);
  builtin = NULL;
  EXPECT(dfd_model_load_builtin_named("wideband", &opts, &builtin), DFD_ERR_INVALID_ARG);
  CHECK(builtin == NULL);
  ERROR_MENTIONS("telephone");
  EXPECT(dfd_model_load_builtin_named("telephone", &opts, NULL), DFD_ERR_NULL_ARG);
  EXPECT(dfd_model_get_info(model, &info), DFD_OK);

  /* Stream argument errors. */
  dfd_stream *s = NULL;
  EXPECT(dfd_open(NULL, 16000, 1, &s), DFD_ERR_NULL_ARG);
  EXPECT(dfd_open(model, 0, 1, &s), DFD_ERR_SAMPLE_RATE);
  EXPECT(dfd_open(model, 384001, 1, &s), DFD_ERR_SAMPLE_RATE);
  EXPECT(dfd_open(model, 16000, 0, &s), DFD_ERR_CHANNELS);
  EXPECT(dfd_open(model, 16000, 9, &s), DFD_ERR_CHANNELS);
  CHECK(s == NULL);
  EXPECT(dfd_open(model, 48000, 2, &s), DFD_OK);

  /* 3 s of a 200 Hz buzz with harmonics, stereo 48 kHz, int16 and float. */
  enum { N = 48000 * 3 };
  static float f[N * 2];
  static int16_t pcm[N * 2];
  for (int i = 0; i < N; i++) {
    double t = i / 48000.0, v = 0;
    for (int h = 1; h < 8; h++) v += sin(2 * M_PI * 200 * h * t) / h;
    f[2 * i] = f[2 * i + 1] = (float)(0.2 * v);
    pcm[2 * i] = pcm[2 * i + 1] = (int16_t)(0.2 * v * 32767);
  }
  EXPECT(dfd_push_samples(NULL, f, 10), DFD_ERR_NULL_ARG);
  EXPECT(dfd_push_samples(s, NULL, 10), DFD_ERR_NULL_ARG);
  EXPECT(dfd_push_samples(s, f, 0), DFD_ERR_EMPTY_PUSH);
  EXPECT(dfd_push_samples((dfd_stream *)s, (const float *)((const char *)f + 1), 4), DFD_ERR_INVALID_ARG);
  f[101] = NAN;
  EXPECT(dfd_push_samples(s, f, 1000), DFD_ERR_BAD_SAMPLES);
  ERROR_MENTIONS("frame 50");
  f[101] = INFINITY;
  EXPECT(dfd_push_samples(s, f, 1000), DFD_ERR_BAD_SAMPLES);
  f[101] = f[100];

  dfd_result r;
  EXPECT(dfd_score(s, NULL), DFD_ERR_NULL_ARG);
  EXPECT(dfd_score(s, &r), DFD_OK);
  CHECK(r.seconds == 0 && r.windows == 0 && r.verdict == DFD_VERDICT_UNKNOWN);

  /* Every chunk size from 1 frame up, float then int16. */
  size_t pos = 0, chunk = 1;
  while (pos < N) {
    size_t n = chunk < N - pos ? chunk : N - pos;
    EXPECT(dfd_push_samples(s, f + 2 * pos, n), DFD_OK);
    pos += n;
    chunk = chunk * 2 + 1;
  }
  EXPECT(dfd_score(s, &r), DFD_OK);
  CHECK(fabs(r.seconds - 3.0) < 1e-9);
  CHECK(r.windows >= 4);
  CHECK(r.p_fake >= 0 && r.p_fake <= 1);
  CHECK(r.verdict == DFD_VERDICT_SYNTHETIC || r.verdict == DFD_VERDICT_BONAFIDE);
  CHECK(r.speech_seconds > 2.0 && r.speech_seconds <= 3.0);
  float first = r.p_fake;

  dfd_window w[64];
  size_t got = 0;
  EXPECT(dfd_read_windows(s, NULL, 4, &got), DFD_ERR_NULL_ARG);
  EXPECT(dfd_read_windows(s, w, 64, NULL), DFD_ERR_NULL_ARG);
  EXPECT(dfd_read_windows(s, w, 2, &got), DFD_OK);
  CHECK(got == 2);
  size_t more = 0;
  EXPECT(dfd_read_windows(s, w + 2, 62, &more), DFD_OK);
  CHECK(got + more == r.windows);
  for (size_t i = 1; i < got + more; i++) CHECK(w[i].start > w[i - 1].start);
  CHECK(fabs(w[0].end - w[0].start - 1.0) < 1e-9);
  EXPECT(dfd_read_windows(s, w, 64, &got), DFD_OK);
  CHECK(got == 0);

  /* Reset, then int16: the same signal gives (nearly) the same score. */
  EXPECT(dfd_reset(NULL), DFD_ERR_NULL_ARG);
  EXPECT(dfd_reset(s), DFD_OK);
  EXPECT(dfd_score(s, &r), DFD_OK);
  CHECK(r.windows == 0 && r.seconds == 0);
  EXPECT(dfd_push_samples_i16(s, pcm, N), DFD_OK);
  EXPECT(dfd_flush(s), DFD_OK);
  EXPECT(dfd_score(s, &r), DFD_OK);
  CHECK(fabs(r.p_fake - first) < 1e-3);
  EXPECT(dfd_push_samples_i16(s, pcm, 10), DFD_ERR_INVALID_ARG);
  ERROR_MENTIONS("flushed");

  /* Deferred streams scored together: the same scores as alone. */
  dfd_stream *d[3] = {NULL, NULL, NULL};
  for (int i = 0; i < 3; i++) EXPECT(dfd_open(model, 48000, 2, &d[i]), DFD_OK);
  EXPECT(dfd_set_deferred(NULL, 1), DFD_ERR_NULL_ARG);
  for (int i = 0; i < 2; i++) EXPECT(dfd_set_deferred(d[i], 1), DFD_OK);
  for (int i = 0; i < 3; i++) EXPECT(dfd_push_samples_i16(d[i], pcm, N), DFD_OK);
  EXPECT(dfd_score(d[0], &r), DFD_OK);
  CHECK(r.windows == 0); /* held back */
  EXPECT(dfd_score(d[2], &r), DFD_OK);
  CHECK(r.windows >= 4); /* not deferred */
  size_t scored = 99;
  EXPECT(dfd_infer_streams(NULL, 2, &scored), DFD_ERR_NULL_ARG);
  dfd_stream *twice[2] = {d[0], d[0]};
  EXPECT(dfd_infer_streams(twice, 2, &scored), DFD_ERR_INVALID_ARG);
  ERROR_MENTIONS("twice");
  dfd_stream *with_null[2] = {d[0], NULL};
  EXPECT(dfd_infer_streams(with_null, 2, &scored), DFD_ERR_NULL_ARG);
  CHECK(scored == 99); /* out-parameters are written only on success */
  EXPECT(dfd_infer_streams(NULL, 0, &scored), DFD_OK);
  CHECK(scored == 0);
  EXPECT(dfd_infer_streams(d, 3, &scored), DFD_OK);
  CHECK(scored == 2 * r.windows);
  EXPECT(dfd_infer_streams(d, 3, NULL), DFD_OK); /* nothing left */
  dfd_result rd[3];
  for (int i = 0; i < 3; i++) {
    EXPECT(dfd_flush(d[i]), DFD_OK);
    EXPECT(dfd_score(d[i], &rd[i]), DFD_OK);
    CHECK(fabs(rd[i].p_fake - first) < 1e-3);
  }
  for (int i = 0; i < 2; i++) {
    CHECK(rd[i].windows == rd[2].windows);
    CHECK(fabs(rd[i].p_fake - rd[2].p_fake) < 1e-6);
    dfd_close(d[i]);
  }
  dfd_close(d[2]);

  dfd_close(s);
  dfd_close(NULL);
  dfd_model_free(model);
  dfd_model_free(NULL);

  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("api_test: all checks passed\n");
  return 0;
}
