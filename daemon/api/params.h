// Reads an action's Parameters object field by field. Every field an action
// reads is declared; finish() refuses any other field. Strings with control
// characters are refused. Errors name the field and throw AmidError before the
// action has changed anything.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/protocol.h"

namespace amid {

class ParamReader {
 public:
  explicit ParamReader(const protocol::Json& params) : params_(params) {}

  std::optional<std::string> optional_string(const std::string& name, std::size_t max_len = 1024);
  std::string required_string(const std::string& name, std::size_t max_len = 1024);
  std::vector<std::string> string_list(const std::string& name, std::size_t max_items = 1000);
  std::optional<std::int64_t> optional_int(const std::string& name, std::int64_t min,
                                           std::int64_t max);
  std::optional<bool> optional_bool(const std::string& name);
  // A structured value checked by its own validator (nullptr when absent).
  const protocol::Json* optional_json(const std::string& name) { return find(name); }
  // Refuses fields nobody asked for.
  void finish() const;
  // Every field as sent (for ClientToken's comparison of whole requests).
  const protocol::Json& parameters() const { return params_; }

 private:
  const protocol::Json* find(const std::string& name);
  const protocol::Json& params_;
  std::set<std::string> known_;
};

}  // namespace amid
