/* A plugin built against the first backend table: it ends at `destroy`,
 * before the optional front-end fields. libdfd must accept it, never read
 * past its table, and keep the front end on the CPU. Its network answers
 * logit 0 for every window, so the test knows what the scores must be, and
 * fails batches of more than 8 windows, to test how errors are reported. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint32_t struct_size, threads;
  const uint8_t *onnx;
  size_t onnx_len;
  const uint64_t *input_shape;
  size_t input_rank, output_len;
  uint32_t max_batch;
} model_desc;

typedef struct {
  uint32_t abi_version, table_size;
  const char *name, *version;
  int32_t (*probe)(char *, size_t);
  int32_t (*precision_order)(char *, size_t);
  int32_t (*create)(const model_desc *, void **, char *, size_t);
  int32_t (*run)(void *, const float *, size_t, float *, char *, size_t);
  void (*destroy)(void *);
} table_v1;

static void say(char *buf, size_t len, const char *msg) {
  if (buf && len) {
    strncpy(buf, msg, len - 1);
    buf[len - 1] = 0;
  }
}
static int32_t probe(char *msg, size_t len) { say(msg, len, "v1 table"); return 0; }
static int32_t order(char *buf, size_t len) { say(buf, len, "fp32"); return 0; }
static int32_t create(const model_desc *d, void **out, char *err, size_t len) {
  size_t *out_len = malloc(sizeof *out_len);
  if (!out_len) { say(err, len, "out of memory"); return 4; }
  *out_len = d->output_len;
  *out = out_len;
  return 0;
}
static int32_t run(void *h, const float *in, size_t batch, float *out, char *err, size_t len) {
  (void)in;
  if (batch > 8) {
    say(err, len, "test plugin: batches of more than 8 fail");
    return 4; /* Runtime */
  }
  memset(out, 0, batch * *(size_t *)h * sizeof *out);
  return 0;
}
static void destroy(void *h) { free(h); }

static const table_v1 t = {1, sizeof(table_v1), "oldtable", "0.0.1", probe, order, create, run, destroy};
const void *dfd_backend_v1(void) { return &t; }
