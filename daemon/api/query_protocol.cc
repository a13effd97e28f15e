#include "daemon/api/query_protocol.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <variant>

#include "common/error.h"
#include "daemon/api/ec2_query_model_json.h"
#include "daemon/api/query_model.h"

namespace amid::query {

using protocol::Json;

namespace {

std::optional<Type> type_named(std::string_view name) {
  static const std::map<std::string_view, Type> kTypes = {
      {"structure", Type::kStructure}, {"list", Type::kList},       {"string", Type::kString},
      {"integer", Type::kInteger},     {"long", Type::kLong},       {"boolean", Type::kBoolean},
      {"timestamp", Type::kTimestamp}, {"blob", Type::kBlob},       {"double", Type::kDouble},
      {"float", Type::kFloat}};
  auto it = kTypes.find(name);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

[[noreturn]] void bad_model(const std::string& why) {
  throw AmidError(codes::kInternalError, "EC2 query model: " + why);
}

[[noreturn]] void invalid(const std::string& message) {
  throw AmidError(codes::kInvalidParameterValue, message);
}

}  // namespace

const char* type_name(Type t) {
  switch (t) {
    case Type::kStructure: return "structure";
    case Type::kList: return "list";
    case Type::kString: return "string";
    case Type::kInteger: return "integer";
    case Type::kLong: return "long";
    case Type::kBoolean: return "boolean";
    case Type::kTimestamp: return "timestamp";
    case Type::kBlob: return "blob";
    case Type::kDouble: return "double";
    case Type::kFloat: return "float";
  }
  return "?";
}

[[noreturn]] void bad_answer(const std::string& message) {
  throw AmidError(codes::kInternalError, "answer does not fit EC2's model: " + message);
}

std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len;
  char32_t cp;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F, min = 0x80;
  else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F, min = 0x800;
  else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07, min = 0x10000;
  else return std::nullopt;
  if (i + len > s.size()) return std::nullopt;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  i += len;
  return cp;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (!next_code_point(s, i)) return false;
  }
  return true;
}

std::string quoted(std::string_view s, std::size_t max) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

bool xml_name(std::string_view name) {
  if (name.empty()) return false;
  const auto letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!letter(name[0])) return false;
  for (char c : name) {
    if (!letter(c) && !(c >= '0' && c <= '9') && c != '-' && c != '.') return false;
  }
  return true;
}

namespace {

// A form key as a message names it.
std::string shown_key(std::string_view key) { return key.empty() ? "(a parameter with no name)" : quoted(key); }

std::string upper_first(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

// A member of a model object, or null when it has none (no copy either way).
const Json& field(const Json& object, const char* name) {
  static const Json kNone;
  auto it = object.find(name);
  return it == object.end() ? kNone : *it;
}

std::string string_field(const Json& object, const char* field, const std::string& where) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_string()) bad_model(where + ": " + field + " must be a string");
  return it->get<std::string>();
}

std::optional<std::string> optional_string_field(const Json& object, const char* field,
                                                 const std::string& where) {
  if (!object.contains(field)) return std::nullopt;
  return string_field(object, field, where);
}

std::unique_ptr<const CompiledModel> compile(const Json& model) {
  auto compiled = std::make_unique<CompiledModel>();
  if (!model.is_object()) bad_model("not a JSON object");
  const Json& header = field(model, "amid");
  if (!header.is_object()) bad_model("amid: the header object is missing");
  compiled->api_version = string_field(header, "apiVersion", "amid");
  compiled->xml_namespace = string_field(header, "xmlNamespace", "amid");

  const Json& shapes = field(model, "shapes");
  if (!shapes.is_object()) bad_model("shapes: must be an object");
  std::map<std::string, std::size_t, std::less<>> index;
  for (const auto& [name, spec] : shapes.items()) {
    index.emplace(name, compiled->shapes.size());
    compiled->shapes.emplace_back().name = name;
  }
  const auto shape_of = [&](const Json& ref, const std::string& where) {
    if (!ref.is_object()) bad_model(where + ": must be an object");
    const std::string name = string_field(ref, "shape", where);
    auto it = index.find(name);
    if (it == index.end()) bad_model(where + ": shape " + name + " is not in the model");
    return it->second;
  };

  for (const auto& [name, spec] : shapes.items()) {
    CompiledModel::Shape& shape = compiled->shapes[index.at(name)];
    if (!spec.is_object()) bad_model(name + ": must be an object");
    const auto type = type_named(string_field(spec, "type", name));
    if (!type) bad_model(name + ": type " + spec["type"].get<std::string>() + " is not one amid serialises");
    shape.type = *type;
    if (shape.type == Type::kStructure) {
      const Json& members = field(spec, "members");
      if (!members.is_object()) bad_model(name + ".members: must be an object");
      for (const auto& [member_name, ref] : members.items()) {
        const std::string where = name + "." + member_name;
        CompiledModel::Member member;
        member.name = member_name;
        member.shape = shape_of(ref, where);
        const auto location = optional_string_field(ref, "locationName", where);
        const auto query = optional_string_field(ref, "queryName", where);
        // botocore's EC2Serializer._get_serialized_name: a locationName goes Capitalised.
        if (query) member.query_name = *query;
        else if (location && !location->empty()) member.query_name = upper_first(*location);
        else member.query_name = member_name;
        member.xml_name = location ? *location : member_name;
        if (member.query_name.empty() || member.query_name.find('.') != std::string::npos) {
          bad_model(where + ": query name '" + member.query_name + "' cannot be read back from a form");
        }
        if (!xml_name(member.xml_name)) bad_model(where + ": '" + member.xml_name + "' is not an XML name");
        const std::size_t at = shape.members.size();
        if (!shape.by_query.emplace(member.query_name, at).second) {
          bad_model(where + ": another member of " + name + " has the query name " + member.query_name);
        }
        shape.by_name.emplace(member.name, at);
        shape.members.push_back(std::move(member));
      }
    } else if (shape.type == Type::kList) {
      if (!spec.contains("member")) bad_model(name + ": a list needs a member");
      shape.item = shape_of(spec["member"], name + ".member");
      shape.item_xml_name = optional_string_field(spec["member"], "locationName", name + ".member").value_or("item");
      if (!xml_name(shape.item_xml_name)) bad_model(name + ".member: '" + shape.item_xml_name + "' is not an XML name");
    }
  }

  // A cycle would let a key nest as deep as a client likes; the parser relies on
  // every walk down the shapes ending.
  std::vector<int> state(compiled->shapes.size(), 0);  // 0 new, 1 on the path, 2 done
  std::function<void(std::size_t)> visit = [&](std::size_t s) {
    if (state[s] == 2) return;
    if (state[s] == 1) bad_model("shape " + compiled->shapes[s].name + " contains itself");
    state[s] = 1;
    const CompiledModel::Shape& shape = compiled->shapes[s];
    for (const auto& m : shape.members) visit(m.shape);
    if (shape.type == Type::kList) visit(shape.item);
    state[s] = 2;
  };
  for (std::size_t s = 0; s < compiled->shapes.size(); ++s) visit(s);

  const Json& operations = field(model, "operations");
  if (!operations.is_object()) bad_model("operations: must be an object");
  for (const auto& [name, spec] : operations.items()) {
    if (!spec.is_object()) bad_model(name + ": must be an object");
    CompiledModel::Operation op;
    for (const char* part : {"input", "output"}) {
      auto shape_name = optional_string_field(spec, part, name);
      if (!shape_name) continue;
      auto it = index.find(*shape_name);
      if (it == index.end()) bad_model(name + "." + part + ": shape " + *shape_name + " is not in the model");
      if (compiled->shapes[it->second].type != Type::kStructure) {
        bad_model(name + "." + part + ": shape " + *shape_name + " is not a structure");
      }
      (std::string_view(part) == "input" ? op.input : op.output) = it->second;
    }
    compiled->operations.emplace(name, op);
  }
  return compiled;
}

// One form read into a tree of the input shape: a node per key prefix, its children
// by member (structures) or by index (lists, kept in index order), since keys come
// in any order and a list's elements in any numbering with gaps.
class FormTree {
 public:
  FormTree(const CompiledModel& model, std::string action, std::size_t input)
      : model_(model), action_(std::move(action)) {
    nodes_.push_back(Node{input, std::nullopt, {}});
  }

  void add(const std::string& key, const std::string& value) {
    std::string_view k(key);
    std::size_t node = 0;
    std::size_t start = 0;
    // Each segment goes one shape down; shapes do not nest in cycles, so a key can go
    // no deeper than the model, however many dots it has.
    for (;;) {
      const std::size_t dot = k.find('.', start);
      const std::size_t end = dot == std::string_view::npos ? k.size() : dot;
      const std::string_view segment = k.substr(start, end - start);
      const std::string_view prefix = k.substr(0, start == 0 ? 0 : start - 1);
      const CompiledModel::Shape& shape = model_.shapes[nodes_[node].shape];
      if (nodes_[node].value && (shape.type == Type::kStructure || shape.type == Type::kList)) {
        invalid(shown_key(key) + ": " + shown_key(prefix) + " was given a value too; it cannot be both");
      }
      std::size_t child_key;
      std::size_t child_shape;
      if (shape.type == Type::kStructure) {
        auto it = shape.by_query.find(segment);
        if (it == shape.by_query.end()) {
          throw AmidError(codes::kUnknownParameter,
                          shown_key(key) + ": unknown parameter; " + (start == 0 ? action_ : shown_key(prefix)) +
                              " takes " + member_list(shape));
        }
        child_key = it->second;
        child_shape = shape.members[it->second].shape;
      } else if (shape.type == Type::kList) {
        child_key = list_index(key, segment);
        child_shape = shape.item;
      } else {
        invalid(shown_key(key) + ": " + shown_key(prefix) + " is a single value (" + type_name(shape.type) +
                "), it has no " + shown_key(segment));
      }
      node = child(node, child_key, child_shape);
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    assign(node, key, value);
  }

  Json json() const { return json(0); }

 private:
  struct Node {
    std::size_t shape;
    std::optional<Json> value;                    // given to this very key
    std::map<std::size_t, std::size_t> children;  // member or list index -> node
  };

  std::size_t child(std::size_t node, std::size_t key, std::size_t shape) {
    auto it = nodes_[node].children.find(key);
    if (it != nodes_[node].children.end()) return it->second;
    nodes_.push_back(Node{shape, std::nullopt, {}});
    nodes_[node].children.emplace(key, nodes_.size() - 1);
    return nodes_.size() - 1;
  }

  // 1..kMaxListElements, in plain decimal: "01" would be a second name for element 1.
  static std::size_t list_index(const std::string& key, std::string_view segment) {
    const bool digits = !segment.empty() && segment.find_first_not_of("0123456789") == std::string_view::npos;
    if (!digits || segment[0] == '0') {
      invalid(shown_key(key) + ": '" + quoted(segment, 40) +
              "' is not a list index (1, 2, 3, ... in decimal, without leading zeros)");
    }
    std::size_t n = 0;
    for (char c : segment) {
      n = n * 10 + static_cast<std::size_t>(c - '0');
      if (n > kMaxListElements) {
        invalid(shown_key(key) + ": list index " + quoted(segment, 40) + " is above " +
                std::to_string(kMaxListElements) + ", the most elements a list may hold");
      }
    }
    return n;
  }

  // What a structure takes, as a form names it: "Filter.N, ImageId.N, MaxResults".
  std::string member_list(const CompiledModel::Shape& shape) const {
    std::string out;
    for (const auto& [query, at] : shape.by_query) {
      if (!out.empty()) out += ", ";
      out += query;
      if (model_.shapes[shape.members[at].shape].type == Type::kList) out += ".N";
    }
    return out.empty() ? "no parameters" : out;
  }

  void assign(std::size_t node, const std::string& key, const std::string& value) {
    Node& n = nodes_[node];
    const CompiledModel::Shape& shape = model_.shapes[n.shape];
    if (n.value) invalid(shown_key(key) + ": given twice");
    switch (shape.type) {
      case Type::kStructure:
        invalid(shown_key(key) + ": is a structure; give its members (" + member_list(shape) +
                ") as sub-keys rather than a value");
      case Type::kList:
        if (!value.empty()) {
          invalid(shown_key(key) + ": is a list; give its elements as " + shown_key(key) + ".1, " +
                  shown_key(key) + ".2, ... (an empty value stands for an empty list)");
        }
        if (!n.children.empty()) invalid(shown_key(key) + ": given as an empty list and with elements too");
        n.value = Json::array();
        return;
      default:
        n.value = scalar(key, shape.type, value);
    }
  }

  [[noreturn]] static void not_a(const std::string& key, const std::string& value, const char* what) {
    invalid(shown_key(key) + ": '" + quoted(value, 64) + "' is not " + what);
  }

  static Json scalar(const std::string& key, Type type, const std::string& value) {
    if (!valid_utf8(value)) invalid(shown_key(key) + ": the value is not UTF-8 text");
    switch (type) {
      case Type::kBoolean:
        if (value == "true") return true;
        if (value == "false") return false;
        not_a(key, value, "a boolean (true or false)");
      case Type::kInteger:
      case Type::kLong: {
        std::int64_t n = 0;
        const char* end = value.data() + value.size();
        auto [ptr, ec] = std::from_chars(value.data(), end, n);
        if (value.empty() || ec == std::errc::invalid_argument || ptr != end) not_a(key, value, "an integer");
        const bool fits = ec == std::errc() && (type == Type::kLong || (n >= std::numeric_limits<std::int32_t>::min() &&
                                                                      n <= std::numeric_limits<std::int32_t>::max()));
        if (!fits) not_a(key, value, type == Type::kLong ? "an integer of 64 bits" : "an integer of 32 bits");
        return n;
      }
      case Type::kDouble:
      case Type::kFloat: {
        double d = 0;
        const char* end = value.data() + value.size();
        auto [ptr, ec] = std::from_chars(value.data(), end, d);
        if (value.empty() || ec != std::errc() || ptr != end || !std::isfinite(d)) not_a(key, value, "a number");
        return d;
      }
      default:  // string; timestamp and blob stay text (ISO 8601, base64): the actions read them
        return value;
    }
  }

  // Depth: one level a key segment, bounded by the model's (acyclic) shapes.
  Json json(std::size_t node) const {
    const Node& n = nodes_[node];
    if (n.value) return *n.value;
    const CompiledModel::Shape& shape = model_.shapes[n.shape];
    if (shape.type == Type::kList) {
      Json out = Json::array();
      for (const auto& [index, child] : n.children) out.push_back(json(child));
      return out;
    }
    Json out = Json::object();
    for (const auto& [member, child] : n.children) out[shape.members[member].name] = json(child);
    return out;
  }

  const CompiledModel& model_;
  std::string action_;
  std::vector<Node> nodes_;
};

}  // namespace

Ec2Model::Ec2Model(const Json& model) : model_(compile(model)) {}

Ec2Model::~Ec2Model() = default;

const Ec2Model& Ec2Model::instance() {
  // Parsed on first use; a function-local static is initialised once, thread-safely.
  static const Ec2Model model(Json::parse(ec2_query_model_json()));
  return model;
}

bool Ec2Model::has_action(const std::string& action) const { return model_->operations.count(action) > 0; }

const std::string& Ec2Model::api_version() const { return model_->api_version; }

Json Ec2Model::parameters(const std::string& action,
                          const std::vector<std::pair<std::string, std::string>>& form) const {
  const CompiledModel::Operation& op = model_->operation(action);
  if (!op.input) {
    if (!form.empty()) {
      throw AmidError(codes::kUnknownParameter, shown_key(form.front().first) + ": unknown parameter; " + action +
                                                    " takes no parameters");
    }
    return Json::object();
  }
  FormTree tree(*model_, action, *op.input);
  for (const auto& [key, value] : form) tree.add(key, value);
  return tree.json();
}

}  // namespace amid::query
