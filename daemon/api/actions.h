// The actions every front door serves, as tables: one per kind of resource
// (image_actions.cc, instance_actions.cc, volume_actions.cc, tag_actions.cc,
// key_pair_actions.cc, security_group_actions.cc, access_key_actions.cc: the
// last only on the socket, as its actions are IAM's, not EC2's).
// An action reads its parameters with a ParamReader (unknown ones refused),
// calls the services of the region the request names, and returns EC2's answer
// fields. Errors are thrown as AmidError; the dispatcher turns them into answers.
// Handlers run on worker threads.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "daemon/api/params.h"
#include "daemon/services/caller.h"
#include "daemon/services/client_token.h"

namespace amid {

class AccessKeyService;
class CaptureService;
class CopyService;
class ImageService;
class InstanceService;
class KeyPairService;
class SecurityGroupService;
class TagService;
class WarmImageService;

// The services an action may call: one region's.
struct Services {
  ImageService& images;
  InstanceService& instances;
  TagService& tags;
  CaptureService& capture;
  CopyService& copy;
  KeyPairService& key_pairs;
  SecurityGroupService& security_groups;
  AccessKeyService& access_keys;  // account-wide: the same keys in every region
  WarmImageService& warm_images;
  const std::map<std::string, Services>* regions = nullptr;  // every region's, by name (copy-image)
};

// An action's answer: a JSON body, or a listing too large to hold as a tree
// (DescribeImages over the whole catalog), whose rows the door's AnswerWriter
// (dispatcher.h) writes one at a time as `rows` renders them.
struct ActionAnswer {
  ActionAnswer(protocol::Json body) : json(std::move(body)) {}  // NOLINT: every handler returns Json
  static ActionAnswer listing(std::string field, protocol::RowSource rows) {
    ActionAnswer a{protocol::Json()};
    a.field = std::move(field);
    a.rows = std::move(rows);
    return a;
  }
  protocol::Json json;
  std::string field;            // a listing's: "Images"
  protocol::RowSource rows;     // set for a listing
};

using Handler = std::function<ActionAnswer(Services&, const Caller&, ParamReader&)>;
using ActionTable = std::map<std::string, Handler>;  // by EC2's action name

const ActionTable& image_actions();
const ActionTable& instance_actions();
const ActionTable& volume_actions();
const ActionTable& tag_actions();
const ActionTable& key_pair_actions();
const ActionTable& security_group_actions();
const ActionTable& access_key_actions();

// What more than one table reads or answers:
// ClientToken, checked, with the request's other parameters in canonical form.
std::optional<ClientToken> read_client_token(ParamReader& p);
// A Describe answer: the rows under `field`, and NextToken when there are more.
protocol::Json listed(const char* field, std::vector<protocol::Json> rows, const std::string& next_token);

}  // namespace amid
