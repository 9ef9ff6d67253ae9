// Scores 16-bit PCM WAV files with the built-in model through dfd.hpp, as
// an app built against the installed tree (CMake, dfd::dfd) would, and
// checks the wrapper's error path. Prints one line per file:
//   FILE p_fake 0.123456 windows N verdict synthetic|bonafide|unknown
// then "error path ok". Exit status 0 only if every check passed.
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <dfd.hpp>

namespace {

struct Wav {
  uint32_t rate = 0, channels = 0;
  std::vector<int16_t> pcm;
};

uint32_t le(const unsigned char *p, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

Wav read_wav(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<unsigned char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (b.size() < 12 || std::memcmp(b.data(), "RIFF", 4) || std::memcmp(b.data() + 8, "WAVE", 4))
    throw std::runtime_error(path + ": not a WAV file");
  Wav w;
  uint32_t bits = 0;
  for (size_t pos = 12; pos + 8 <= b.size();) {
    uint32_t len = le(&b[pos + 4], 4);
    const unsigned char *body = &b[pos + 8];
    if (!std::memcmp(&b[pos], "fmt ", 4)) {
      w.channels = le(body + 2, 2);
      w.rate = le(body + 4, 4);
      bits = le(body + 14, 2);
    } else if (!std::memcmp(&b[pos], "data", 4)) {
      if (bits != 16) throw std::runtime_error(path + ": 16-bit PCM only");
      len = std::min<uint32_t>(len, b.size() - pos - 8);
      w.pcm.resize(len / 2);
      for (size_t i = 0; i < w.pcm.size(); i++) w.pcm[i] = static_cast<int16_t>(le(body + 2 * i, 2));
      return w;
    }
    pos += 8 + len + (len & 1);
  }
  throw std::runtime_error(path + ": no data chunk");
}

const char *verdict_name(dfd::Verdict v) {
  switch (v) {
    case dfd::Verdict::Synthetic: return "synthetic";
    case dfd::Verdict::Bonafide: return "bonafide";
    default: return "unknown";
  }
}

int failures = 0;
void expect(bool ok, const std::string &what) {
  if (!ok) {
    std::cerr << "FAILED: " << what << "\n";
    failures++;
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::cerr << "usage: score_cpp FILE.wav...\n";
    return 2;
  }
  try {
    std::cout << "libdfd " << dfd::version() << " abi " << dfd::abi_version() << "\n";
    dfd::Model model = dfd::Model::builtin();
    dfd::ModelInfo info = model.info();
    std::cout << "model " << info.name << " on " << info.backend << " (" << info.precision << ")\n";
    // The built-in telephone model by name.
    if (dfd::Model::builtin("telephone").info().sample_rate != 8000) {
      std::cerr << "the built-in telephone model is not 8 kHz\n";
      return 1;
    }
    std::vector<Wav> wavs;
    std::vector<float> alone;
    for (int i = 1; i < argc; i++) {
      Wav w = read_wav(argv[i]);
      wavs.push_back(w);
      dfd::Stream s(model, w.rate, w.channels);
      // 20 ms chunks, as the Rust side of the test pushes them.
      size_t chunk = std::max<size_t>(1, w.rate / 50) * w.channels;
      for (size_t pos = 0; pos < w.pcm.size(); pos += chunk) {
        size_t n = std::min(chunk, w.pcm.size() - pos);
        s.push(w.pcm.data() + pos, n / w.channels);
      }
      s.flush();
      dfd::Result r = s.score();
      alone.push_back(r.p_fake);
      std::vector<dfd::Window> windows = s.read_windows();
      expect(windows.size() == r.windows, "read_windows returns every window");
      char line[64];
      std::snprintf(line, sizeof line, "%.6f", static_cast<double>(r.p_fake));
      std::cout << argv[i] << " p_fake " << line << " windows " << r.windows << " verdict "
                << verdict_name(r.verdict) << "\n";

      // Move-only handles: a moved stream keeps working, the old one is empty.
      dfd::Stream moved = std::move(s);
      expect(!s && moved, "moved-from stream is empty");
      expect(moved.score().windows == r.windows, "moved stream keeps its state");
      try {
        s.flush();
        expect(false, "a moved-from stream throws");
      } catch (const dfd::Error &e) {
        expect(e.status() == DFD_ERR_NULL_ARG, "moved-from stream: DFD_ERR_NULL_ARG");
      }
    }

    // All files at once: deferred streams scored together give the same scores.
    std::vector<dfd::Stream> together;
    for (const Wav &w : wavs) {
      together.emplace_back(model, w.rate, w.channels);
      together.back().set_deferred(true);
      together.back().push(w.pcm);
    }
    std::vector<dfd::Stream *> ptrs;
    for (dfd::Stream &s : together) ptrs.push_back(&s);
    expect(dfd::infer_streams(ptrs) > 0, "infer_streams scores the held windows");
    for (size_t i = 0; i < together.size(); i++) {
      together[i].flush();
      float p = together[i].score().p_fake;
      expect(p - alone[i] < 1e-5f && alone[i] - p < 1e-5f, "deferred streams score as alone");
    }
    ptrs.push_back(ptrs.front());
    try {
      dfd::infer_streams(ptrs);
      expect(false, "a stream listed twice throws");
    } catch (const dfd::Error &e) {
      expect(e.status() == DFD_ERR_INVALID_ARG, "stream listed twice: DFD_ERR_INVALID_ARG");
    }

    // Error paths carry the C status and dfd_last_error().
    try {
      dfd::Model::load("/nonexistent/model.onnx");
      expect(false, "loading a missing model throws");
    } catch (const dfd::Error &e) {
      expect(e.status() == DFD_ERR_IO, std::string("missing model: DFD_ERR_IO, got ") + e.what());
      expect(std::string(e.what()).find("/nonexistent/model.onnx") != std::string::npos,
             std::string("message names the path: ") + e.what());
    }
    try {
      dfd::Stream bad(model, 0, 1);
      expect(false, "rate 0 throws");
    } catch (const dfd::Error &e) {
      expect(e.status() == DFD_ERR_SAMPLE_RATE, "rate 0: DFD_ERR_SAMPLE_RATE");
    }
    dfd::Stream s(model, 16000, 2);
    try {
      s.push(std::vector<float>{0.1f, 0.2f, 0.3f});
      expect(false, "odd sample count on 2 channels throws");
    } catch (const dfd::Error &e) {
      expect(e.status() == DFD_ERR_INVALID_ARG, "odd sample count: DFD_ERR_INVALID_ARG");
    }
    try {
      float nan_frame[2] = {0.0f, std::numeric_limits<float>::quiet_NaN()};
      s.push(nan_frame, 1);
      expect(false, "NaN throws");
    } catch (const dfd::Error &e) {
      expect(e.status() == DFD_ERR_BAD_SAMPLES, "NaN: DFD_ERR_BAD_SAMPLES");
    }
    s.push(std::vector<float>(3200, 0.0f));  // the stream stays usable
    expect(s.score().seconds > 0.09, "stream usable after a rejected chunk");
  } catch (const dfd::Error &e) {
    std::cerr << "dfd::Error status " << e.status() << ": " << e.what() << "\n";
    return 1;
  }
  if (failures) return 1;
  std::cout << "error path ok\n";
  return 0;
}
