// todoke-differ: compares desired and live objects and assesses health.
#include "common/service_main.h"
#include "todoke/differ/v1/differ.grpc.pb.h"

int main(int argc, char** argv) {
  todoke::InitService(argc, argv, "differ",
                      "todoke-differ: compares desired and live objects and assesses health.\n\nUsage: todoke-differ [--listen=host:port] [flags]");
  // Methods not built yet answer UNIMPLEMENTED (the generated base class does so).
  todoke::differ::v1::Differ::Service service;
  return todoke::ServeUntilSignal("differ", {&service});
}
