/* Built by tests/install.rs with `cc app.c $(pkg-config --cflags --libs dfd)`
 * against an installed libdfd: scores 16-bit PCM WAV files with the
 * built-in model (no plugin directory given: the installed libdfd finds
 * its CPU plugin in lib/dfd/plugins by itself) and prints
 *   FILE p_fake 0.123456 windows N
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dfd.h>

static uint32_t le(const unsigned char *p, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static int score_file(const dfd_model *model, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 1;
  unsigned char hdr[12], ck[8], fmt[16];
  uint32_t rate = 0, channels = 0, bits = 0;
  int16_t *pcm = NULL;
  size_t frames = 0;
  if (fread(hdr, 1, 12, f) != 12 || memcmp(hdr, "RIFF", 4) || memcmp(hdr + 8, "WAVE", 4)) goto bad;
  while (fread(ck, 1, 8, f) == 8) {
    uint32_t len = le(ck + 4, 4);
    if (!memcmp(ck, "fmt ", 4)) {
      if (len < 16 || fread(fmt, 1, 16, f) != 16) goto bad;
      channels = le(fmt + 2, 2);
      rate = le(fmt + 4, 4);
      bits = le(fmt + 14, 2);
      fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR);
    } else if (!memcmp(ck, "data", 4)) {
      if (bits != 16 || channels == 0) goto bad;
      pcm = malloc(len);
      frames = fread(pcm, 1, len, f) / (2 * channels);
      break;
    } else {
      fseek(f, (long)(len + (len & 1)), SEEK_CUR);
    }
  }
  fclose(f);
  if (!pcm) return 1;

  dfd_stream *s = NULL;
  dfd_status st = dfd_open(model, rate, channels, &s);
  size_t chunk = rate / 50 ? rate / 50 : 1; /* 20 ms */
  for (size_t pos = 0; st == DFD_OK && pos < frames; pos += chunk)
    st = dfd_push_samples_i16(s, pcm + pos * channels, frames - pos < chunk ? frames - pos : chunk);
  if (st == DFD_OK) st = dfd_flush(s);
  dfd_result r;
  if (st == DFD_OK) st = dfd_score(s, &r);
  free(pcm);
  dfd_close(s);
  if (st != DFD_OK) {
    fprintf(stderr, "%s: %s (%s)\n", path, dfd_status_str(st), dfd_last_error());
    return 1;
  }
  printf("%s p_fake %.6f windows %llu\n", path, (double)r.p_fake, (unsigned long long)r.windows);
  return 0;
bad:
  fclose(f);
  fprintf(stderr, "%s: not a 16-bit PCM WAV file\n", path);
  return 1;
}

int main(int argc, char **argv) {
  printf("libdfd %s (header %s)\n", dfd_version(), DFD_VERSION_STRING);
  dfd_model *model = NULL;
  dfd_status st = dfd_model_load_builtin(NULL, &model);
  if (st != DFD_OK) {
    fprintf(stderr, "dfd_model_load_builtin: %s (%s)\n", dfd_status_str(st), dfd_last_error());
    return 1;
  }
  dfd_model_info info;
  dfd_model_get_info(model, &info);
  printf("model %s on %s (%s)\n", info.name, info.backend, info.precision);
  int rc = 0;
  for (int i = 1; i < argc; i++) rc |= score_file(model, argv[i]);
  dfd_model_free(model);
  return rc;
}
