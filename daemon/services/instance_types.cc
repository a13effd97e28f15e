#include "daemon/services/instance_types.h"

#include <sstream>
#include <toml++/toml.h>

#include "common/toml_util.h"
#include "daemon/services/instance_types_builtin.h"

namespace amid {
namespace {
std::string at(const std::string& source, const toml::source_region& r) {
  std::ostringstream o;
  o << source << ":" << r.begin.line << ":" << r.begin.column << ": ";
  return o.str();
}
}  // namespace

Result<InstanceTypes> parse_instance_types(const std::string& text, const std::string& source) {
  toml::table root;
  if (auto deep = toml_util::deep_key_problem(text, source)) return problem(*deep);
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return problem(at(source, e.source()) + std::string(e.description()));
  }
  for (auto& [k, v] : root) {
    if (k.str() != "instance_types") {
      return problem(at(source, v.source()) + "unknown key '" + std::string(k.str()) + "'");
    }
  }
  const toml::node* node = root.get("instance_types");
  if (!node) return problem(source + ": [instance_types] table missing");
  const toml::table* types = node->as_table();
  if (!types) return problem(at(source, node->source()) + "instance_types: must be a table");
  InstanceTypes out;
  for (auto& [k, v] : *types) {
    std::string name(k.str());
    const toml::table* t = v.as_table();
    if (!t) return problem(at(source, v.source()) + name + ": must be a table");
    InstanceType it;
    it.name = name;
    bool has_vcpus = false, has_mem = false;
    for (auto& [field, value] : *t) {
      std::string f(field.str());
      if (f == "architecture") {
        auto a = value.value<std::string>();
        if (!value.is_string() || (*a != "x86_64" && *a != "arm64")) {
          return problem(at(source, value.source()) + name + ".architecture: must be \"x86_64\" or \"arm64\"");
        }
        it.architecture = *a;
        continue;
      }
      if (f != "vcpus" && f != "memory_mib" && f != "instance_store_gib") {
        return problem(at(source, value.source()) + name + ": unknown key '" + f + "'");
      }
      auto n = value.value<std::int64_t>();
      if (!value.is_integer() || !n || *n < 0 || *n > 1'000'000) {
        return problem(at(source, value.source()) + name + "." + f +
                       ": must be a whole number between 0 and 1000000");
      }
      if (f == "vcpus") {
        it.vcpus = static_cast<int>(*n);
        has_vcpus = true;
      } else if (f == "memory_mib") {
        it.memory_mib = static_cast<std::uint64_t>(*n);
        has_mem = true;
      } else if (f == "instance_store_gib") {
        it.instance_store_gib = static_cast<std::uint64_t>(*n);
      } else {
        return problem(at(source, value.source()) + name + ": unknown key '" + f + "'");
      }
    }
    if (!has_vcpus || !has_mem || it.vcpus < 1 || it.memory_mib < 64) {
      return problem(at(source, v.source()) + name +
                     ": needs vcpus (>= 1) and memory_mib (>= 64)");
    }
    out[name] = it;
  }
  if (out.empty()) return problem(source + ": no instance types");
  return out;
}

const InstanceTypes& builtin_instance_types() {
  static const InstanceTypes table =
      parse_instance_types(kBuiltinInstanceTypes, "configs/instance-types.toml").value_or_throw();
  return table;
}

}  // namespace amid
