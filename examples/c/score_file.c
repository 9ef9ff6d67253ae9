/* Scores audio files of any format libdfd_decode reads (WAV, FLAC, MP3, Ogg
 * Vorbis or Opus, WebM/Matroska Opus, MP4/M4A AAC) with the built-in model,
 * as `dfd scan` does, and prints one line per file.
 *
 *   cc -o score_file score_file.c $(pkg-config --cflags --libs dfd) -ldfd_decode
 *   ./score_file FILE...
 */
#include <stdint.h>
#include <stdio.h>

#include "dfd.h"
#include "dfd_decode.h"

/* Interleaved samples read per call: whole frames of up to 16384 channels. */
#define BLOCK 16384

static const char *verdict_name(int32_t v) {
  return v == DFD_VERDICT_SYNTHETIC ? "synthetic" : v == DFD_VERDICT_BONAFIDE ? "bonafide" : "unknown";
}

/* Decodes `path` into a stream opened at the file's own rate and channel
 * count, flushes it and prints its score; 0 on success. */
static int score(const dfd_model *model, const char *path) {
  static float pcm[BLOCK];
  dfd_decoder *file = NULL;
  if (dfd_decoder_open(path, &file) != DFD_DECODE_OK) {
    fprintf(stderr, "%s\n", dfd_decode_last_error());
    return 1;
  }
  dfd_stream *stream = NULL;
  size_t n = 0;
  uint32_t rate = 0, channels = 0;
  int failed = 0;
  while (!failed) {
    if (dfd_decoder_read(file, pcm, BLOCK, &n, &rate, &channels) != DFD_DECODE_OK) {
      fprintf(stderr, "%s\n", dfd_decode_last_error());
      failed = 1;
    } else if (n == 0) {
      break;
    } else if ((!stream && dfd_open(model, rate, channels, &stream) != DFD_OK) ||
               dfd_push_samples(stream, pcm, n / channels) != DFD_OK) {
      fprintf(stderr, "%s: %s\n", path, dfd_last_error());
      failed = 1;
    }
  }
  dfd_decoder_close(file);
  dfd_result r;
  if (!failed && stream && dfd_flush(stream) == DFD_OK && dfd_score(stream, &r) == DFD_OK) {
    printf("%s p_fake %.6f windows %llu verdict %s\n", path, r.p_fake, (unsigned long long)r.windows,
           verdict_name(r.verdict));
  } else if (!failed) {
    fprintf(stderr, "%s: %s\n", path, stream ? dfd_last_error() : "no audio");
    failed = 1;
  }
  dfd_close(stream);
  return failed;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE...\n", argv[0]);
    return 2;
  }
  dfd_model *model = NULL;
  if (dfd_model_load_builtin(NULL, &model) != DFD_OK) {
    fprintf(stderr, "%s\n", dfd_last_error());
    return 1;
  }
  int failed = 0;
  for (int i = 1; i < argc; i++) failed |= score(model, argv[i]);
  dfd_model_free(model);
  return failed;
}
