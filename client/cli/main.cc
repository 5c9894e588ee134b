// SPDX-License-Identifier: Apache-2.0
//
// `chatpro`: the ChatPro command-line client (the command line itself is
// cli.cc, so that the tests can run it in-process).
#include <string>
#include <vector>

#include "client/cli/commands.h"

int main(int argc, char** argv) {
  return chatpro::cli::Run(std::vector<std::string>(argv + 1, argv + argc));
}
