// todoke: the command line client of the orchestrator.
#include <iostream>

#include "cli/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return todoke::cli::Run(std::move(args), std::cout, std::cerr);
}
