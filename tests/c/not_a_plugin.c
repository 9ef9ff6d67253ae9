/* A well-formed shared library that is not a libdfd plugin (no dfd_backend_v1). */
int not_a_plugin(void) { return 1; }
