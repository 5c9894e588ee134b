// SPDX-License-Identifier: Apache-2.0
//
// A program of one's own on libchatpro, built against the chatpro-dev
// package: enrolls a device with an invite and sends one text message.
//
//   g++ -std=c++17 client_example.cc $(pkg-config --cflags --libs chatpro)
//   ./a.out PROFILE_DIR INVITE TO_LOGIN TEXT
#include <iostream>
#include <memory>
#include <string>

#include "client/client.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: " << argv[0] << " PROFILE_DIR INVITE TO_LOGIN TEXT\n";
    return 2;
  }
  namespace client = chatpro::client;
  chatpro::Result<client::Profile> profile = client::Enroll(argv[1], argv[2]);
  if (!profile.ok()) {
    std::cerr << "enroll: " << profile.status().message() << "\n";
    return 1;
  }
  chatpro::Result<std::unique_ptr<client::Client>> connected =
      client::Client::Connect(*profile, client::ClientOptions{});
  if (!connected.ok()) {
    std::cerr << "connect: " << connected.status().message() << "\n";
    return 1;
  }
  client::SendResult ack =
      (*connected)->Send(client::Target::User(argv[3]), client::Text{argv[4]}).get();
  if (!ack.status.ok()) {
    std::cerr << "send: " << ack.status.message() << "\n";
    return 1;
  }
  std::cout << "sent to " << argv[3] << ": conversation " << ack.conversation_id << ", seq "
            << ack.seq << "\n";
  return 0;
}
