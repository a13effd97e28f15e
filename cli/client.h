// amictl's side of the socket: connect, send one request, read one answer.
// Blocking. Throws ClientError when amid cannot be reached or answers nonsense;
// an EC2 error answer is returned, not thrown.
#pragma once

#include <stdexcept>
#include <string>

#include "common/protocol.h"

namespace amid::cli {

class UnreachableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Client {
 public:
  // region: sent as every request's Region ("" = amid's default region).
  explicit Client(std::string socket_path, std::string region = {})
      : path_(std::move(socket_path)), region_(std::move(region)) {}
  ~Client();
  protocol::Response call(const std::string& action, const protocol::Json& parameters);
  const std::string& socket_path() const { return path_; }

 private:
  void connect();
  bool closed_by_amid() const;
  std::string path_;
  std::string region_;
  int fd_ = -1;
  std::string pending_;  // bytes read past the last answer
};

// AMID_SOCKET, else /run/amid/amid.sock for root, else $XDG_RUNTIME_DIR/amid/amid.sock
// when that exists (the user's own amid), else /run/amid/amid.sock when that
// exists (the system's, for members of group amid), else the user's own path.
std::string default_socket_path();

}  // namespace amid::cli
