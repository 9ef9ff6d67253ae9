/* JNI glue between org.libdfd (bindings/java/src/main/java) and libdfd's C
 * API. Build (Linux):
 *   cc -shared -fPIC -O2 -I include -I $JAVA_HOME/include -I $JAVA_HOME/include/linux \
 *      bindings/java/jni/dfd_jni.c -L DIR_WITH_LIBDFD -ldfd -o libdfd_jni.so
 * Handles travel as jlong. Every failing call throws org.libdfd.DfdException
 * (status, dfd_last_error()). Define DFD_JNI_CHECK_HEADERS with the
 * `javac -h` headers on the include path to check every signature. */
#include <jni.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfd.h"

#ifdef DFD_JNI_CHECK_HEADERS
#include "org_libdfd_Dfd.h"
#include "org_libdfd_Model.h"
#include "org_libdfd_Stream.h"
#endif

#define H(x) ((void *)(intptr_t)(x))

static void throw_dfd(JNIEnv *env, dfd_status st, const char *msg) {
  jclass cls = (*env)->FindClass(env, "org/libdfd/DfdException");
  if (!cls) return; /* NoClassDefFoundError pending */
  jmethodID ctor = (*env)->GetMethodID(env, cls, "<init>", "(ILjava/lang/String;)V");
  jstring jmsg = (*env)->NewStringUTF(env, msg);
  if (!ctor || !jmsg) return;
  jobject ex = (*env)->NewObject(env, cls, ctor, (jint)st, jmsg);
  if (ex) (*env)->Throw(env, (jthrowable)ex);
}

/* Throws for a failed call; returns 1 if it threw. */
static int check(JNIEnv *env, dfd_status st, const char *call) {
  if (st == DFD_OK) return 0;
  const char *detail = dfd_last_error();
  size_t n = strlen(call) + strlen(detail) + 64;
  char *msg = malloc(n);
  if (!msg) {
    throw_dfd(env, st, call);
    return 1;
  }
  snprintf(msg, n, "%s: %s", call, *detail ? detail : dfd_status_str(st));
  throw_dfd(env, st, msg);
  free(msg);
  return 1;
}

/* A Java string as modified UTF-8 (NULL for null); release with unstr. */
static const char *str(JNIEnv *env, jstring s) { return s ? (*env)->GetStringUTFChars(env, s, NULL) : NULL; }
static void unstr(JNIEnv *env, jstring s, const char *c) {
  if (s && c) (*env)->ReleaseStringUTFChars(env, s, c);
}

typedef struct {
  jstring js[3];
  const char *cs[3];
  dfd_model_options o;
} opts;

static int opts_get(JNIEnv *env, opts *p, jstring backend, jstring precision, jstring plugin_dir, jint threads) {
  memset(p, 0, sizeof *p);
  dfd_model_options_init(&p->o);
  p->js[0] = backend;
  p->js[1] = precision;
  p->js[2] = plugin_dir;
  for (int i = 0; i < 3; i++) {
    p->cs[i] = str(env, p->js[i]);
    if (p->js[i] && !p->cs[i]) return -1; /* OutOfMemoryError pending */
  }
  p->o.backend = p->cs[0];
  p->o.precision = p->cs[1];
  p->o.plugin_dir = p->cs[2];
  p->o.threads = (uint32_t)(threads < 0 ? 0 : threads);
  return 0;
}

static void opts_free(JNIEnv *env, opts *p) {
  for (int i = 0; i < 3; i++) unstr(env, p->js[i], p->cs[i]);
}

JNIEXPORT jstring JNICALL Java_org_libdfd_Dfd_version(JNIEnv *env, jclass cls) {
  (void)cls;
  return (*env)->NewStringUTF(env, dfd_version());
}

JNIEXPORT jint JNICALL Java_org_libdfd_Dfd_abiVersion(JNIEnv *env, jclass cls) {
  (void)env, (void)cls;
  return (jint)dfd_abi_version();
}

JNIEXPORT jstring JNICALL Java_org_libdfd_Dfd_statusString(JNIEnv *env, jclass cls, jint st) {
  (void)cls;
  return (*env)->NewStringUTF(env, dfd_status_str(st));
}

JNIEXPORT jlong JNICALL Java_org_libdfd_Model_nLoad(JNIEnv *env, jclass cls, jstring path, jstring backend,
                                                    jstring precision, jstring plugin_dir, jint threads) {
  (void)cls;
  if (!path) {
    throw_dfd(env, DFD_ERR_NULL_ARG, "dfd_model_load: path is null");
    return 0;
  }
  opts p;
  memset(&p, 0, sizeof p);
  dfd_model *m = NULL;
  const char *cpath = str(env, path);
  if (cpath && opts_get(env, &p, backend, precision, plugin_dir, threads) == 0)
    check(env, dfd_model_load(cpath, &p.o, &m), "dfd_model_load");
  opts_free(env, &p);
  unstr(env, path, cpath);
  return (jlong)(intptr_t)m;
}

JNIEXPORT jlong JNICALL Java_org_libdfd_Model_nLoadMemory(JNIEnv *env, jclass cls, jbyteArray data, jstring backend,
                                                          jstring precision, jstring plugin_dir, jint threads) {
  (void)cls;
  if (!data) {
    throw_dfd(env, DFD_ERR_NULL_ARG, "dfd_model_load_from_memory: data is null");
    return 0;
  }
  opts p;
  memset(&p, 0, sizeof p);
  dfd_model *m = NULL;
  if (opts_get(env, &p, backend, precision, plugin_dir, threads) == 0) {
    jsize len = (*env)->GetArrayLength(env, data);
    jbyte *bytes = (*env)->GetByteArrayElements(env, data, NULL);
    if (bytes) {
      check(env, dfd_model_load_from_memory(bytes, (size_t)len, &p.o, &m), "dfd_model_load_from_memory");
      (*env)->ReleaseByteArrayElements(env, data, bytes, JNI_ABORT);
    }
  }
  opts_free(env, &p);
  return (jlong)(intptr_t)m;
}

JNIEXPORT jlong JNICALL Java_org_libdfd_Model_nLoadBuiltin(JNIEnv *env, jclass cls, jstring name, jstring backend,
                                                           jstring precision, jstring plugin_dir, jint threads) {
  (void)cls;
  opts p;
  memset(&p, 0, sizeof p);
  dfd_model *m = NULL;
  const char *cname = name ? str(env, name) : NULL;
  if ((!name || cname) && opts_get(env, &p, backend, precision, plugin_dir, threads) == 0)
    check(env, dfd_model_load_builtin_named(cname, &p.o, &m), "dfd_model_load_builtin_named");
  opts_free(env, &p);
  if (cname) unstr(env, name, cname);
  return (jlong)(intptr_t)m;
}

JNIEXPORT void JNICALL Java_org_libdfd_Model_nInfo(JNIEnv *env, jclass cls, jlong h, jdoubleArray nums,
                                                   jobjectArray strs) {
  (void)cls;
  dfd_model_info i;
  if (check(env, dfd_model_get_info(H(h), &i), "dfd_model_get_info")) return;
  jdouble n[4] = {i.sample_rate, i.window, i.hop, i.threshold};
  (*env)->SetDoubleArrayRegion(env, nums, 0, 4, n);
  const char *s[3] = {i.name, i.backend, i.precision};
  for (int k = 0; k < 3; k++) {
    jstring js = (*env)->NewStringUTF(env, s[k] ? s[k] : "");
    if (!js) return;
    (*env)->SetObjectArrayElement(env, strs, k, js);
    (*env)->DeleteLocalRef(env, js);
  }
}

JNIEXPORT void JNICALL Java_org_libdfd_Model_nFree(JNIEnv *env, jclass cls, jlong h) {
  (void)env, (void)cls;
  dfd_model_free(H(h));
}

JNIEXPORT jlong JNICALL Java_org_libdfd_Stream_nOpen(JNIEnv *env, jclass cls, jlong model, jint rate,
                                                     jint channels) {
  (void)cls;
  dfd_stream *s = NULL;
  check(env, dfd_open(H(model), (uint32_t)rate, (uint32_t)channels, &s), "dfd_open");
  return (jlong)(intptr_t)s;
}

/* Offsets and lengths are checked on the Java side. */
JNIEXPORT void JNICALL Java_org_libdfd_Stream_nPushI16(JNIEnv *env, jclass cls, jlong h, jshortArray data,
                                                       jint offset, jint frames) {
  (void)cls;
  jshort *p = (*env)->GetShortArrayElements(env, data, NULL);
  if (!p) return;
  dfd_status st = dfd_push_samples_i16(H(h), (const int16_t *)p + offset, (size_t)frames);
  (*env)->ReleaseShortArrayElements(env, data, p, JNI_ABORT);
  check(env, st, "dfd_push_samples_i16");
}

JNIEXPORT void JNICALL Java_org_libdfd_Stream_nPushF32(JNIEnv *env, jclass cls, jlong h, jfloatArray data,
                                                       jint offset, jint frames) {
  (void)cls;
  jfloat *p = (*env)->GetFloatArrayElements(env, data, NULL);
  if (!p) return;
  dfd_status st = dfd_push_samples(H(h), (const float *)p + offset, (size_t)frames);
  (*env)->ReleaseFloatArrayElements(env, data, p, JNI_ABORT);
  check(env, st, "dfd_push_samples");
}

JNIEXPORT void JNICALL Java_org_libdfd_Stream_nFlush(JNIEnv *env, jclass cls, jlong h) {
  (void)cls;
  check(env, dfd_flush(H(h)), "dfd_flush");
}

JNIEXPORT void JNICALL Java_org_libdfd_Stream_nReset(JNIEnv *env, jclass cls, jlong h) {
  (void)cls;
  check(env, dfd_reset(H(h)), "dfd_reset");
}

JNIEXPORT void JNICALL Java_org_libdfd_Stream_nScore(JNIEnv *env, jclass cls, jlong h, jdoubleArray out) {
  (void)cls;
  dfd_result r;
  if (check(env, dfd_score(H(h), &r), "dfd_score")) return;
  jdouble v[7] = {r.p_fake, r.last_p_fake, (jdouble)r.windows, r.seconds, r.speech_seconds, r.verdict,
                  (jdouble)r.windows_dropped};
  (*env)->SetDoubleArrayRegion(env, out, 0, 7, v);
}

JNIEXPORT jint JNICALL Java_org_libdfd_Stream_nReadWindows(JNIEnv *env, jclass cls, jlong h, jdoubleArray out,
                                                           jint max) {
  (void)cls;
  if (max <= 0) return 0;
  dfd_window *w = malloc(sizeof *w * (size_t)max);
  if (!w) {
    throw_dfd(env, DFD_ERR_INTERNAL, "dfd_read_windows: out of memory");
    return 0;
  }
  size_t n = 0;
  if (!check(env, dfd_read_windows(H(h), w, (size_t)max, &n), "dfd_read_windows")) {
    for (size_t i = 0; i < n; i++) {
      jdouble v[3] = {w[i].start, w[i].end, w[i].p_fake};
      (*env)->SetDoubleArrayRegion(env, out, (jsize)(3 * i), 3, v);
    }
  }
  free(w);
  return (jint)n;
}

JNIEXPORT void JNICALL Java_org_libdfd_Stream_nClose(JNIEnv *env, jclass cls, jlong h) {
  (void)env, (void)cls;
  dfd_close(H(h));
}
