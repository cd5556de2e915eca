// todoke-applier: applies objects to a destination, prunes and waits.
#include "common/service_main.h"
#include "todoke/applier/v1/applier.grpc.pb.h"

int main(int argc, char** argv) {
  todoke::InitService(argc, argv, "applier",
                      "todoke-applier: applies objects to a destination, prunes and waits.\n\nUsage: todoke-applier [--listen=host:port] [flags]");
  // Methods not built yet answer UNIMPLEMENTED (the generated base class does so).
  todoke::applier::v1::Applier::Service service;
  return todoke::ServeUntilSignal("applier", {&service});
}
