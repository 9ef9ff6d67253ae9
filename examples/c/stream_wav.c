/* Streams a 16-bit PCM WAV file through libdfd in 20 ms chunks, as a
 * softphone would, and prints the running score once per second.
 *
 *   cc -o stream_wav stream_wav.c $(pkg-config --cflags --libs dfd)
 *   ./stream_wav MODEL FILE.wav [PLUGIN_DIR]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfd.h"

/* Minimal RIFF reader: finds "fmt " and "data"; 16-bit PCM only. */
static int read_wav(const char *file, uint32_t *rate, uint32_t *channels, int16_t **pcm, size_t *frames) {
  FILE *f = fopen(file, "rb");
  if (!f) return -1;
  unsigned char hdr[12], ck[8];
  int ok = fread(hdr, 1, 12, f) == 12 && !memcmp(hdr, "RIFF", 4) && !memcmp(hdr + 8, "WAVE", 4);
  uint16_t bits = 0;
  while (ok && fread(ck, 1, 8, f) == 8) {
    uint32_t len = ck[4] | ck[5] << 8 | ck[6] << 16 | (uint32_t)ck[7] << 24;
    if (!memcmp(ck, "fmt ", 4)) {
      unsigned char fmt[16];
      if (len < 16 || fread(fmt, 1, 16, f) != 16) break;
      *channels = fmt[2] | fmt[3] << 8;
      *rate = fmt[4] | fmt[5] << 8 | fmt[6] << 16 | (uint32_t)fmt[7] << 24;
      bits = fmt[14] | fmt[15] << 8;
      fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR);
    } else if (!memcmp(ck, "data", 4)) {
      if (bits != 16 || *channels == 0) break;
      *pcm = malloc(len);
      *frames = fread(*pcm, 1, len, f) / (2 * *channels);
      fclose(f);
      return 0;
    } else {
      fseek(f, (long)(len + (len & 1)), SEEK_CUR);
    }
  }
  fclose(f);
  return -1;
}

static int fail(const char *what, dfd_status st) {
  fprintf(stderr, "%s: %s (%s)\n", what, dfd_status_str(st), dfd_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL FILE.wav [PLUGIN_DIR]\n", argv[0]);
    return 2;
  }
  uint32_t rate = 0, channels = 0;
  int16_t *pcm = NULL;
  size_t frames = 0;
  if (read_wav(argv[2], &rate, &channels, &pcm, &frames) != 0) {
    fprintf(stderr, "%s: not a 16-bit PCM WAV file\n", argv[2]);
    return 1;
  }

  dfd_model_options opts;
  dfd_model_options_init(&opts);
  if (argc > 3) opts.plugin_dir = argv[3];
  dfd_model *model = NULL;
  dfd_status st = dfd_model_load(argv[1], &opts, &model);
  if (st != DFD_OK) return fail("dfd_model_load", st);
  dfd_model_info info;
  dfd_model_get_info(model, &info);
  printf("model %s on %s (%s), %u Hz; file %u Hz x %u ch, %.2f s\n", info.name, info.backend, info.precision,
         info.sample_rate, rate, channels, (double)frames / rate);

  dfd_stream *stream = NULL;
  st = dfd_open(model, rate, channels, &stream);
  if (st != DFD_OK) return fail("dfd_open", st);

  size_t chunk = rate / 50; /* 20 ms */
  if (chunk == 0) chunk = 1;
  dfd_result r;
  double next_print = 1.0;
  for (size_t pos = 0; pos < frames; pos += chunk) {
    size_t n = frames - pos < chunk ? frames - pos : chunk;
    st = dfd_push_samples_i16(stream, pcm + pos * channels, n);
    if (st != DFD_OK) return fail("dfd_push_samples_i16", st);
    dfd_score(stream, &r);
    if (r.seconds >= next_print) {
      printf("%6.2f s  p_fake %.3f  last %.3f  windows %llu\n", r.seconds, r.p_fake, r.last_p_fake,
             (unsigned long long)r.windows);
      next_print += 1.0;
    }
  }
  dfd_flush(stream);
  dfd_score(stream, &r);
  const char *verdict = r.verdict == DFD_VERDICT_SYNTHETIC ? "synthetic"
                        : r.verdict == DFD_VERDICT_BONAFIDE ? "bona fide"
                                                           : "unknown";
  printf("final: p_fake %.3f  verdict %s  windows %llu  speech %.2f s of %.2f s\n", r.p_fake, verdict,
         (unsigned long long)r.windows, r.speech_seconds, r.seconds);

  dfd_close(stream);
  dfd_model_free(model);
  free(pcm);
  return 0;
}
