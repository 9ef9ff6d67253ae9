// Linked against dfd::dfd_static (libdfd.a): prints the library version and
// that the built-in model is there (loading it needs a backend; the CPU
// plugin is not next to this executable, so the status must say so).
#include <iostream>

#include <dfd.hpp>

int main() {
  std::cout << "static libdfd " << dfd::version() << "\n";
  try {
    dfd::Model::builtin(dfd::Options{"cpu", "", "", 0});
    std::cout << "loaded\n";
  } catch (const dfd::Error &e) {
    std::cout << "status " << e.status() << "\n";
  }
  return 0;
}
