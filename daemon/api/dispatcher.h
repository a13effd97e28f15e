// Turns a request line into a call of one action (api/actions.h) on the
// services of the region it names, and every error into a protocol answer: the
// one place where exceptions become EC2 error codes.
//
// The set of actions is closed: the union of the tables in api/actions.h.
// handle() is called from worker threads and never throws.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "daemon/api/actions.h"
#include "daemon/services/caller.h"

namespace amid {

// How a front door writes an action's answer once it succeeded: the socket as
// its JSON line (Dispatcher::json_answers), EC2's HTTP door as XML. A listing
// (ActionAnswer::listing) is written as its rows are rendered.
class AnswerWriter {
 public:
  virtual ~AnswerWriter() = default;
  virtual std::string answer(const std::string& action, const std::string& request_id,
                             const protocol::Json& body) const = 0;
  virtual std::string listing(const std::string& action, const std::string& request_id, const std::string& field,
                              const protocol::RowSource& rows) const = 0;
};

// Every action takes an optional `Region` parameter (EC2's endpoint): the
// services of that region answer; without it, the default region's do. A region
// amid does not serve is InvalidParameterValue naming the ones it does.
class Dispatcher {
 public:
  // The default region's services.
  explicit Dispatcher(Services home);
  // Another region's.
  void add_region(Services services);

  // What became of one request: the action's answer as the door's writer wrote
  // it, or EC2's error code and message.
  struct Outcome {
    std::string request_id;
    bool ok = false;
    std::string text;
    std::string error_code, error_message;
  };
  // One parsed request in, its outcome out (every front door's way in). An
  // error while the answer is written (a listing renders its rows then) is the
  // request's error, as one in the action is.
  Outcome run(const Caller& caller, const protocol::Request& request, const AnswerWriter& writer);
  // The socket's writer: protocol::encode_ok's line.
  static const AnswerWriter& json_answers();
  // One request line in, one answer line (with newline) out: the socket's door.
  std::string handle(const Caller& caller, const std::string& line);
  static std::vector<std::string> action_names();
  // Whether the line asks for an action that only reads (Describe*,
  // GetConsoleOutput). A line that does not parse counts as not.
  static bool reads_only(const std::string& line);
  static bool reads_only_action(const std::string& action);

 private:
  ActionAnswer dispatch(const Caller& caller, const protocol::Request& request);
  std::string home_;
  std::map<std::string, Services> regions_;
};

}  // namespace amid
