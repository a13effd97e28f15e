// Turns a parsed request into a call on a service, and every error into a
// protocol answer: the one place where exceptions become EC2 error codes.
//
// The set of actions is closed (kActions in dispatcher.cc); each reads its
// parameters with a ParamReader, so unknown fields are refused. handle() is
// called from worker threads and never throws.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "daemon/caller.h"
#include "daemon/capture_service.h"
#include "daemon/image_service.h"
#include "daemon/instance_service.h"
#include "daemon/tag_service.h"

namespace amid {

// The services an action may call.
struct Services {
  ImageService& images;
  InstanceService& instances;
  TagService& tags;
  CaptureService* capture = nullptr;  // absent in tests that need no create-image
  const std::map<std::string, Services>* regions = nullptr;  // every region's, by name (copy-image)
};

struct ActionAnswer;  // an action's answer (dispatcher.cc)

// Every action takes an optional `Region` parameter (EC2's endpoint): the
// services of that region answer; without it, the default region's do. A region
// amid does not serve is InvalidParameterValue naming the ones it does.
class Dispatcher {
 public:
  // The default region's services.
  Dispatcher(ImageService& images, InstanceService& instances, TagService& tags,
             CaptureService* capture = nullptr)
      : services_{images, instances, tags, capture} {
    regions_.emplace(images.region(), services_);
  }
  // Another region's.
  void add_region(Services services) { regions_.emplace(services.images.region(), services); }

  // One request line in, one answer line (with newline) out.
  std::string handle(const Caller& caller, const std::string& line);
  static std::vector<std::string> action_names();
  // Whether the line asks for an action that only reads (Describe*,
  // GetConsoleOutput). A line that does not parse counts as not.
  static bool reads_only(const std::string& line);

 private:
  ActionAnswer dispatch(const Caller& caller, const protocol::Request& request);
  Services services_;
  std::map<std::string, Services> regions_;
};

}  // namespace amid
