// The text of daemon/api/ec2_query_model.json (EC2's wire format for amid's
// actions, written by scripts/ec2-query-model), compiled into amid so that the
// Query front door reads no file at run time. CMake writes the definition
// (gen/daemon/api/ec2_query_model_json.cc) from the JSON when it configures.
#pragma once

#include <string>

namespace amid::query {

std::string ec2_query_model_json();

}  // namespace amid::query
