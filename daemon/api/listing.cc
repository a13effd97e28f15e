#include "daemon/api/listing.h"

#include <algorithm>

#include "common/base64.h"

namespace amid {

using protocol::Json;

namespace {
constexpr std::size_t kMaxTokenChars = 2048;

std::vector<std::string> key_of(const Json& row, const std::vector<std::string>& pointers) {
  std::vector<std::string> key;
  for (const auto& p : pointers) {
    Json::json_pointer ptr(p);
    key.push_back(row.contains(ptr) && row.at(ptr).is_string() ? row.at(ptr).get<std::string>() : "");
  }
  return key;
}
}  // namespace

std::string encode_next_token(const std::string& action, const std::vector<std::string>& after) {
  return base64_encode(Json({{"Action", action}, {"After", after}}).dump());
}

Result<std::vector<std::string>> decode_next_token(const std::string& token, const std::string& action,
                                                   std::size_t key_size) {
  auto bad = [](const std::string& why) { return problem("NextToken: " + why, codes::kInvalidNextToken); };
  auto text = base64_decode(token);
  if (!text) return bad("not a token amid issued");
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.size() != 2 || !j.contains("Action") ||
      !j["Action"].is_string() || !j.contains("After") || !j["After"].is_array()) {
    return bad("not a token amid issued");
  }
  if (j["Action"] != action) {
    return bad("issued by " + j["Action"].get<std::string>() + ", not " + action);
  }
  if (j["After"].size() != key_size) return bad("not a token amid issued");
  std::vector<std::string> after;
  for (const auto& v : j["After"]) {
    if (!v.is_string()) return bad("not a token amid issued");
    after.push_back(v.get<std::string>());
  }
  return after;
}

Listing::Listing(ListingSpec spec, ParamReader& p, bool ids_given, const std::string& ids_field)
    : spec_(std::move(spec)) {
  if (spec_.filters) {
    if (const Json* f = p.optional_json("Filters")) filters_ = parse_filters(*f, *spec_.filters).value_or_throw();
  }
  max_results_ = p.optional_int("MaxResults", spec_.min_results, spec_.max_results);
  auto token = p.optional_string("NextToken", kMaxTokenChars);
  if (ids_given && (max_results_ || token)) {
    throw AmidError(codes::kInvalidParameterCombination,
                    std::string(max_results_ ? "MaxResults" : "NextToken") + ": cannot be used with " + ids_field +
                        "; name the ids or page through all of them");
  }
  if (token) after_ = decode_next_token(*token, spec_.action, spec_.key.size()).value_or_throw();
}

bool Listing::wants(const Json& row) const {
  return !spec_.filters || matches(filters_, *spec_.filters, row);
}

std::string Listing::next_token(const std::vector<std::string>& after) const {
  return encode_next_token(spec_.action, after);
}

std::vector<std::string> Listing::filter_fields() const {
  std::vector<std::string> out;
  auto add = [&](std::string field) {
    if (std::find(out.begin(), out.end(), field) == out.end()) out.push_back(std::move(field));
  };
  if (!spec_.filters) return out;
  for (const auto& f : filters_) {
    auto field = std::find_if(spec_.filters->fields.begin(), spec_.filters->fields.end(),
                              [&](const FilterField& ff) { return ff.name == f.name; });
    if (field == spec_.filters->fields.end()) {
      add("Tags");  // tag:KEY, tag-key
      continue;
    }
    std::size_t slash = field->path.find('/', 1);
    add(field->path.substr(1, slash == std::string::npos ? std::string::npos : slash - 1));
  }
  return out;
}

std::vector<std::pair<std::string, std::vector<std::string>>> Listing::column_globs() const {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  if (!spec_.filters) return out;
  for (const auto& f : filters_) {
    for (const auto& ff : spec_.filters->fields) {
      if (ff.name == f.name && !ff.column.empty()) out.emplace_back(ff.column, f.values);
    }
  }
  return out;
}

std::string Listing::take_page(std::vector<Json>& rows) const {
  if (!max_results_ && !after_) return "";
  std::vector<std::pair<std::vector<std::string>, Json*>> keyed;
  keyed.reserve(rows.size());
  for (auto& row : rows) {
    auto key = key_of(row, spec_.key);
    if (!after_ || key > *after_) keyed.emplace_back(std::move(key), &row);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string next;
  if (max_results_ && keyed.size() > static_cast<std::size_t>(*max_results_)) {
    keyed.resize(static_cast<std::size_t>(*max_results_));
    next = encode_next_token(spec_.action, keyed.back().first);
  }
  std::vector<Json> page;
  page.reserve(keyed.size());
  for (auto& [key, row] : keyed) page.push_back(std::move(*row));
  rows = std::move(page);
  return next;
}

}  // namespace amid
