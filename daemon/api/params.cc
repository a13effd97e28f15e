#include "daemon/api/params.h"

#include "daemon/services/validate.h"

namespace amid {

const protocol::Json* ParamReader::find(const std::string& name) {
  known_.insert(name);
  auto it = params_.find(name);
  if (it == params_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> ParamReader::optional_string(const std::string& name,
                                                        std::size_t max_len) {
  const protocol::Json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw AmidError(codes::kInvalidParameterValue, name + ": must be a string");
  std::string s = *v;
  if (s.size() > max_len) {
    throw AmidError(codes::kInvalidParameterValue,
                    name + ": longer than " + std::to_string(max_len) + " characters");
  }
  if (!is_printable(s)) {
    throw AmidError(codes::kInvalidParameterValue, name + ": must not hold control characters");
  }
  return s;
}

std::string ParamReader::required_string(const std::string& name, std::size_t max_len) {
  auto s = optional_string(name, max_len);
  if (!s || s->empty()) throw AmidError(codes::kMissingParameter, name + ": required");
  return *s;
}

std::vector<std::string> ParamReader::string_list(const std::string& name, std::size_t max_items) {
  const protocol::Json* v = find(name);
  if (!v) return {};
  if (!v->is_array()) {
    throw AmidError(codes::kInvalidParameterValue, name + ": must be a list of strings");
  }
  if (v->size() > max_items) {
    throw AmidError(codes::kInvalidParameterValue,
                    name + ": more than " + std::to_string(max_items) + " items");
  }
  std::vector<std::string> out;
  for (const auto& item : *v) {
    if (!item.is_string()) {
      throw AmidError(codes::kInvalidParameterValue, name + ": must be a list of strings");
    }
    std::string s = item;
    if (!is_printable(s) || s.size() > 1024) {
      throw AmidError(codes::kInvalidParameterValue, name + ": holds an invalid string");
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<std::int64_t> ParamReader::optional_int(const std::string& name, std::int64_t min,
                                                      std::int64_t max) {
  const protocol::Json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) {
    throw AmidError(codes::kInvalidParameterValue, name + ": must be an integer");
  }
  bool too_big = v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max);
  std::int64_t n = too_big ? max : v->get<std::int64_t>();
  if (too_big || n < min || n > max) {
    throw AmidError(codes::kInvalidParameterValue, name + ": must be between " +
                                                       std::to_string(min) + " and " +
                                                       std::to_string(max));
  }
  return n;
}

std::optional<bool> ParamReader::optional_bool(const std::string& name) {
  const protocol::Json* v = find(name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw AmidError(codes::kInvalidParameterValue, name + ": must be true or false");
  return v->get<bool>();
}

void ParamReader::finish() const {
  for (auto& [key, value] : params_.items()) {
    if (!known_.count(key)) {
      throw AmidError(codes::kUnknownParameter, "unknown parameter '" + key + "'");
    }
  }
}

}  // namespace amid
