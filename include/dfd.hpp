/*
 * libdfd: C++17 wrapper of the C API (header only; hand-written, not
 * generated). Link against libdfd as for dfd.h; CMake: `dfd::dfd`.
 *
 *   dfd::Model model = dfd::Model::builtin();        // or Model::load(path)
 *   dfd::Stream stream(model, 48000, 2);
 *   stream.push(pcm, frames);                       // int16_t* or float*
 *   dfd::Result r = stream.score();                 // r.p_fake, r.verdict
 *
 * Every failing call throws dfd::Error, which carries the dfd_status and
 * the message of dfd_last_error(). Model and Stream own their handle and
 * are move-only; a moved-from object holds no handle (using it throws
 * DFD_ERR_NULL_ARG). Threading is that of the C API: a Model may be shared
 * by threads, a Stream is used by one thread at a time.
 */
#ifndef DFD_HPP
#define DFD_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dfd.h"

namespace dfd {

/* A failed libdfd call: status() is the dfd_status, what() the message. */
class Error : public std::runtime_error {
 public:
  Error(dfd_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
  dfd_status status() const noexcept { return status_; }
  /* dfd_status_str() of the status, e.g. "file could not be read". */
  const char *status_str() const noexcept { return dfd_status_str(status_); }

 private:
  dfd_status status_;
};

namespace detail {
inline void check(dfd_status status, const char *call) {
  if (status != DFD_OK) {
    std::string msg = std::string(call) + ": " + dfd_status_str(status);
    const char *detail = dfd_last_error();
    if (detail && *detail) msg += std::string(": ") + detail;
    throw Error(status, msg);
  }
}
}  // namespace detail

enum class Verdict : int32_t {
  Unknown = DFD_VERDICT_UNKNOWN,
  Bonafide = DFD_VERDICT_BONAFIDE,
  Synthetic = DFD_VERDICT_SYNTHETIC,
};

/* Scores of a stream so far (see dfd_result). */
struct Result {
  float p_fake = 0;
  float last_p_fake = 0;
  uint64_t windows = 0;
  double seconds = 0;
  double speech_seconds = 0;
  Verdict verdict = Verdict::Unknown;
  uint64_t windows_dropped = 0;
};

/* One scored analysis window, times in seconds from the stream start. */
struct Window {
  double start = 0;
  double end = 0;
  float p_fake = 0;
};

/* Load options; empty strings mean the default ("auto", no plugin_dir). */
struct Options {
  std::string backend;
  std::string precision;
  std::string plugin_dir;
  uint32_t threads = 0;
};

/* What libdfd understood of a loaded model (copied out of the model). */
struct ModelInfo {
  uint32_t sample_rate = 0;
  uint32_t window = 0;
  uint32_t hop = 0;
  float threshold = 0;
  std::string name;
  std::string backend;
  std::string precision;
};

inline std::string version() { return dfd_version(); }
inline uint32_t abi_version() { return dfd_abi_version(); }

class Stream;

/* A loaded model; immutable, shareable across threads. */
class Model {
 public:
  static Model load(const std::string &path, const Options &options = Options()) {
    dfd_model_options o = c_options(options);
    dfd_model *m = nullptr;
    detail::check(dfd_model_load(path.c_str(), &o, &m), "dfd_model_load");
    return Model(m);
  }
  static Model load_from_memory(const void *data, size_t len, const Options &options = Options()) {
    dfd_model_options o = c_options(options);
    dfd_model *m = nullptr;
    detail::check(dfd_model_load_from_memory(data, len, &o, &m), "dfd_model_load_from_memory");
    return Model(m);
  }
  /* The default detector compiled into libdfd. */
  static Model builtin(const Options &options = Options()) {
    dfd_model_options o = c_options(options);
    dfd_model *m = nullptr;
    detail::check(dfd_model_load_builtin(&o, &m), "dfd_model_load_builtin");
    return Model(m);
  }
  /* A detector compiled into libdfd by name: "default" (16 kHz) or
     "telephone" (8 kHz calls), or its model name. */
  static Model builtin(const std::string &name, const Options &options = Options()) {
    dfd_model_options o = c_options(options);
    dfd_model *m = nullptr;
    detail::check(dfd_model_load_builtin_named(name.c_str(), &o, &m), "dfd_model_load_builtin_named");
    return Model(m);
  }

  Model(Model &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Model &operator=(Model &&other) noexcept {
    if (this != &other) {
      dfd_model_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;
  /* Streams keep the model alive: freeing it while they are open is safe. */
  ~Model() { dfd_model_free(handle_); }

  ModelInfo info() const {
    dfd_model_info i;
    detail::check(dfd_model_get_info(handle_, &i), "dfd_model_get_info");
    ModelInfo out;
    out.sample_rate = i.sample_rate;
    out.window = i.window;
    out.hop = i.hop;
    out.threshold = i.threshold;
    out.name = i.name ? i.name : "";
    out.backend = i.backend ? i.backend : "";
    out.precision = i.precision ? i.precision : "";
    return out;
  }

  const dfd_model *get() const noexcept { return handle_; }
  explicit operator bool() const noexcept { return handle_ != nullptr; }

 private:
  explicit Model(dfd_model *handle) : handle_(handle) {}
  static dfd_model_options c_options(const Options &options) {
    dfd_model_options o;
    dfd_model_options_init(&o);
    o.threads = options.threads;
    if (!options.backend.empty()) o.backend = options.backend.c_str();
    if (!options.precision.empty()) o.precision = options.precision.c_str();
    if (!options.plugin_dir.empty()) o.plugin_dir = options.plugin_dir.c_str();
    return o;
  }
  dfd_model *handle_ = nullptr;
};

/* One audio stream at a fixed rate and channel count. */
class Stream {
 public:
  Stream(const Model &model, uint32_t sample_rate, uint32_t channels) : channels_(channels) {
    detail::check(dfd_open(model.get(), sample_rate, channels, &handle_), "dfd_open");
  }
  Stream(Stream &&other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)), channels_(other.channels_) {}
  Stream &operator=(Stream &&other) noexcept {
    if (this != &other) {
      dfd_close(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
      channels_ = other.channels_;
    }
    return *this;
  }
  Stream(const Stream &) = delete;
  Stream &operator=(const Stream &) = delete;
  ~Stream() { dfd_close(handle_); }

  /* `frames` interleaved frames (frames * channels() samples). */
  void push(const float *interleaved, size_t frames) {
    detail::check(dfd_push_samples(handle_, interleaved, frames), "dfd_push_samples");
  }
  void push(const int16_t *interleaved, size_t frames) {
    detail::check(dfd_push_samples_i16(handle_, interleaved, frames), "dfd_push_samples_i16");
  }
  /* Interleaved samples; their count must be a multiple of channels(). */
  void push(const std::vector<float> &interleaved) {
    push(interleaved.data(), frames_of(interleaved.size()));
  }
  void push(const std::vector<int16_t> &interleaved) {
    push(interleaved.data(), frames_of(interleaved.size()));
  }
  void flush() { detail::check(dfd_flush(handle_), "dfd_flush"); }
  void reset() { detail::check(dfd_reset(handle_), "dfd_reset"); }
  /* Deferred: pushes queue the windows they complete for dfd::infer_streams
   * (see dfd_set_deferred). */
  void set_deferred(bool deferred) {
    detail::check(dfd_set_deferred(handle_, deferred ? 1 : 0), "dfd_set_deferred");
  }

  Result score() const {
    dfd_result r;
    detail::check(dfd_score(handle_, &r), "dfd_score");
    Result out;
    out.p_fake = r.p_fake;
    out.last_p_fake = r.last_p_fake;
    out.windows = r.windows;
    out.seconds = r.seconds;
    out.speech_seconds = r.speech_seconds;
    out.verdict = static_cast<Verdict>(r.verdict);
    out.windows_dropped = r.windows_dropped;
    return out;
  }

  /* Takes up to `max` unread per-window results, oldest first. */
  std::vector<Window> read_windows(size_t max = 1024) {
    std::vector<dfd_window> buf(max);
    size_t n = 0;
    detail::check(dfd_read_windows(handle_, buf.data(), buf.size(), &n), "dfd_read_windows");
    std::vector<Window> out(n);
    for (size_t i = 0; i < n; i++) out[i] = Window{buf[i].start, buf[i].end, buf[i].p_fake};
    return out;
  }

  uint32_t channels() const noexcept { return channels_; }
  dfd_stream *get() const noexcept { return handle_; }
  explicit operator bool() const noexcept { return handle_ != nullptr; }

 private:
  size_t frames_of(size_t samples) const {
    if (channels_ == 0 || samples % channels_ != 0)
      throw Error(DFD_ERR_INVALID_ARG, "dfd::Stream::push: sample count " + std::to_string(samples) +
                                           " is not a multiple of " + std::to_string(channels_) + " channels");
    return samples / channels_;
  }
  dfd_stream *handle_ = nullptr;
  uint32_t channels_ = 0;
};

/* Scores the windows the streams hold back, the windows of many streams in
 * one backend call (dfd_infer_streams). Returns the number scored. */
inline size_t infer_streams(const std::vector<Stream *> &streams) {
  std::vector<dfd_stream *> handles;
  handles.reserve(streams.size());
  for (Stream *s : streams) handles.push_back(s ? s->get() : nullptr);
  size_t n = 0;
  detail::check(dfd_infer_streams(handles.data(), handles.size(), &n), "dfd_infer_streams");
  return n;
}

}  // namespace dfd

#endif /* DFD_HPP */
