// todoke-renderer: renders the files of an app path at a commit into Kubernetes objects.
#include "common/service_main.h"
#include "todoke/renderer/v1/renderer.grpc.pb.h"

int main(int argc, char** argv) {
  todoke::InitService(argc, argv, "renderer",
                      "todoke-renderer: renders the files of an app path at a commit into Kubernetes objects.\n\nUsage: todoke-renderer [--listen=host:port] [flags]");
  // Methods not built yet answer UNIMPLEMENTED (the generated base class does so).
  todoke::renderer::v1::Renderer::Service service;
  return todoke::ServeUntilSignal("renderer", {&service});
}
