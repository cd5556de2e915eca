// todoke-source-fetcher: resolves Git refs, keeps bare mirrors and serves the files of a commit.
#include "common/service_main.h"
#include "todoke/source_fetcher/v1/source_fetcher.grpc.pb.h"

int main(int argc, char** argv) {
  todoke::InitService(argc, argv, "source-fetcher",
                      "todoke-source-fetcher: resolves Git refs, keeps bare mirrors and serves the files of a commit.\n\nUsage: todoke-source-fetcher [--listen=host:port] [flags]");
  // Methods not built yet answer UNIMPLEMENTED (the generated base class does so).
  todoke::source_fetcher::v1::SourceFetcher::Service service;
  return todoke::ServeUntilSignal("source-fetcher", {&service});
}
