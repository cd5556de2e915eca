// todoke-orchestrator: runs Applications: the reconcile loop, history and the public API.
#include "common/service_main.h"
#include "todoke/orchestrator/v1/orchestrator.grpc.pb.h"

int main(int argc, char** argv) {
  todoke::InitService(argc, argv, "orchestrator",
                      "todoke-orchestrator: runs Applications: the reconcile loop, history and the public API.\n\nUsage: todoke-orchestrator [--listen=host:port] [flags]");
  // Methods not built yet answer UNIMPLEMENTED (the generated base class does so).
  todoke::orchestrator::v1::Orchestrator::Service service;
  return todoke::ServeUntilSignal("orchestrator", {&service});
}
