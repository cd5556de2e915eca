// todoke-differ: compares desired and live objects and assesses health. Stateless.
#include "common/service_main.h"
#include "services/differ/grpc/differ_service.h"

int main(int argc, char** argv) {
  todoke::InitService(argc, argv, "differ",
                      "todoke-differ: compares desired and live objects and assesses health.\n\n"
                      "Usage: todoke-differ [--listen=host:port] [flags]");
  todoke::differ::DifferService service;
  return todoke::ServeUntilSignal("differ", {&service});
}
