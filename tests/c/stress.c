/* Many threads on one model: each thread feeds its own stream (its own
 * rate, channel count, sample format) in random chunk sizes, reading
 * scores and windows as it goes; every stream's results must equal those
 * of the same audio fed alone, in one chunk, before the threads start.
 * Run by tests/c_programs.rs under valgrind, and by .ci/run's sanitizer
 * step built with -fsanitize=address,undefined.
 * Usage: stress MODEL PLUGIN_DIR THREADS SECONDS */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfd.h"

#define MAX_THREADS 256
#define MAX_WINDOWS 4096

static const uint32_t RATES[] = {8000, 11025, 16000, 22050, 44100, 48000};

/* One stream's audio and what it scored. */
typedef struct {
  uint32_t rate, channels;
  int is_i16;
  size_t frames;
  float *f32;
  int16_t *i16;
  uint64_t seed;
  dfd_result result;
  dfd_window windows[MAX_WINDOWS];
  size_t n_windows;
  int failed;
} job;

static dfd_model *model;

static uint64_t next(uint64_t *s) { /* splitmix64: a reproducible sequence */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Voiced-speech-like audio: a pitch glide with harmonics, syllable-rate
 * amplitude modulation and a little noise, loud enough for the gate. */
static void make_audio(job *j, int index) {
  uint64_t s = 1000 + (uint64_t)index;
  j->rate = RATES[next(&s) % (sizeof RATES / sizeof RATES[0])];
  j->channels = 1 + (uint32_t)(next(&s) % 2);
  j->is_i16 = (int)(next(&s) % 2);
  j->seed = next(&s);
  size_t n = j->frames * j->channels;
  j->f32 = malloc(n * sizeof(float));
  j->i16 = malloc(n * sizeof(int16_t));
  double phase = 0.0;
  for (size_t t = 0; t < j->frames; t++) {
    double sec = (double)t / j->rate;
    double f0 = 110.0 + 40.0 * index / 64.0 + 20.0 * sin(2 * M_PI * 0.7 * sec);
    phase += 2 * M_PI * f0 / j->rate;
    double x = 0.0;
    for (int h = 1; h <= 8; h++) x += sin(h * phase) / h;
    x *= 0.15 * (0.6 + 0.4 * sin(2 * M_PI * 4.0 * sec));
    x += ((double)(next(&s) % 2001) - 1000.0) * 1e-5;
    for (uint32_t c = 0; c < j->channels; c++) {
      j->f32[t * j->channels + c] = (float)x;
      j->i16[t * j->channels + c] = (int16_t)lrint(x * 32767.0);
    }
  }
}

static int push(dfd_stream *s, const job *j, size_t from, size_t frames) {
  size_t at = from * j->channels;
  return j->is_i16 ? dfd_push_samples_i16(s, j->i16 + at, frames)
                   : dfd_push_samples(s, j->f32 + at, frames);
}

static void read_windows(dfd_stream *s, job *j) {
  size_t n = 0;
  size_t room = MAX_WINDOWS - j->n_windows;
  if (dfd_read_windows(s, j->windows + j->n_windows, room, &n) != DFD_OK) j->failed = 1;
  j->n_windows += n < room ? n : room;
}

/* Feeds the whole stream; `chunked`: random chunk sizes with score and
 * window reads in between, else one push. */
static void feed(job *j, int chunked) {
  dfd_stream *s = NULL;
  j->n_windows = 0;
  if (dfd_open(model, j->rate, j->channels, &s) != DFD_OK) {
    fprintf(stderr, "open %u Hz: %s\n", j->rate, dfd_last_error());
    j->failed = 1;
    return;
  }
  uint64_t r = j->seed;
  size_t at = 0;
  while (at < j->frames) {
    size_t n = chunked ? 1 + next(&r) % 6000 : j->frames;
    if (n > j->frames - at) n = j->frames - at;
    if (push(s, j, at, n) != DFD_OK) {
      fprintf(stderr, "push: %s\n", dfd_last_error());
      j->failed = 1;
    }
    at += n;
    if (chunked && next(&r) % 3 == 0) {
      dfd_result mid;
      if (dfd_score(s, &mid) != DFD_OK) j->failed = 1;
      read_windows(s, j);
    }
  }
  if (dfd_flush(s) != DFD_OK || dfd_score(s, &j->result) != DFD_OK) j->failed = 1;
  read_windows(s, j);
  dfd_close(s);
}

static void *thread_main(void *arg) {
  feed(arg, 1);
  return NULL;
}

static int same(const job *a, const job *b) {
  if (a->result.p_fake != b->result.p_fake || a->result.windows != b->result.windows ||
      a->result.seconds != b->result.seconds || a->result.verdict != b->result.verdict ||
      a->n_windows != b->n_windows)
    return 0;
  for (size_t i = 0; i < a->n_windows; i++)
    if (a->windows[i].start != b->windows[i].start || a->windows[i].p_fake != b->windows[i].p_fake)
      return 0;
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s MODEL PLUGIN_DIR THREADS SECONDS\n", argv[0]);
    return 2;
  }
  int threads = atoi(argv[3]);
  double seconds = atof(argv[4]);
  if (threads < 1 || threads > MAX_THREADS || !(seconds > 0)) return 2;
  dfd_model_options o;
  dfd_model_options_init(&o);
  o.backend = "cpu";
  o.plugin_dir = argv[2];
  if (dfd_model_load(argv[1], &o, &model) != DFD_OK) {
    fprintf(stderr, "load: %s\n", dfd_last_error());
    return 1;
  }
  job *alone = calloc((size_t)threads, sizeof(job));
  job *together = calloc((size_t)threads, sizeof(job));
  for (int i = 0; i < threads; i++) {
    alone[i].frames = (size_t)(seconds * 48000);
    make_audio(&alone[i], i);
    alone[i].frames = (size_t)(seconds * alone[i].rate);
    feed(&alone[i], 0);
    together[i] = alone[i];
  }
  pthread_t tid[MAX_THREADS];
  for (int i = 0; i < threads; i++) pthread_create(&tid[i], NULL, thread_main, &together[i]);
  for (int i = 0; i < threads; i++) pthread_join(tid[i], NULL);
  int bad = 0;
  uint64_t windows = 0;
  for (int i = 0; i < threads; i++) {
    windows += together[i].result.windows;
    if (alone[i].failed || together[i].failed || alone[i].result.windows == 0 ||
        !same(&alone[i], &together[i])) {
      fprintf(stderr, "stream %d (%u Hz, %u ch, %s): alone p=%.9g w=%llu, threaded p=%.9g w=%llu\n",
              i, alone[i].rate, alone[i].channels, alone[i].is_i16 ? "i16" : "f32",
              alone[i].result.p_fake, (unsigned long long)alone[i].result.windows,
              together[i].result.p_fake, (unsigned long long)together[i].result.windows);
      bad++;
    }
    free(alone[i].f32);
    free(alone[i].i16);
  }
  free(alone);
  free(together);
  dfd_model_free(model);
  if (bad) {
    fprintf(stderr, "stress: %d of %d streams differ\n", bad, threads);
    return 1;
  }
  printf("stress: %d threads, %llu windows, every stream equal to it alone\n", threads,
         (unsigned long long)windows);
  return 0;
}
