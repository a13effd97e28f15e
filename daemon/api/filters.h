// EC2's Filters on the Describe actions: [{"Name": "state", "Values": ["available"]}].
//
// A row matches when it matches every filter (AND); it matches a filter when one
// of the filter's values matches one of the row's values for that name (OR).
// String values take EC2's wildcards: `*` any run of characters, `?` exactly one
// character, a backslash makes the next character literal. Numbers and booleans
// compare exactly ("8", "true").
//
// Filters are matched against the rows as amid answers them (render.h), so a
// filter sees exactly what DescribeX shows. Each action's filter names are a data
// table (FilterSchema): a name and where its values sit in the row. Pure and
// thread-safe; parse_filters never throws.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/protocol.h"

namespace amid {

struct Filter {
  std::string name;
  std::vector<std::string> values;
};
using Filters = std::vector<Filter>;

struct FilterField {
  std::string name;  // "block-device-mapping.volume-size"
  // A JSON pointer into the row in which "*" stands for every element of an
  // array: "/BlockDeviceMappings/*/Ebs/VolumeSize".
  std::string path;
  // The catalog column that holds exactly the value at `path`, when one does
  // ("" = none): the catalog may then leave out rows that cannot match before
  // they are read and rendered (a narrowing only; rows are still matched here).
  std::string column = {};
};

struct FilterSchema {
  std::vector<FilterField> fields;
  // "tag:KEY" (the value of tag KEY) and "tag-key" (every key), read from the
  // row's EC2 "Tags" list.
  bool tags = true;
};

// The filter names of each Describe action.
extern const FilterSchema kImageFilters;
extern const FilterSchema kInstanceFilters;  // rows carry ReservationId and OwnerId too
extern const FilterSchema kVolumeFilters;
extern const FilterSchema kTagFilters;
extern const FilterSchema kKeyPairFilters;
extern const FilterSchema kSecurityGroupFilters;

inline constexpr std::size_t kMaxFilters = 50;
inline constexpr std::size_t kMaxFilterValues = 200;

// Reads the Filters parameter. Unknown names are InvalidParameterValue naming
// them ("Filters: unknown filter name 'foo'"); other errors name the field
// ("Filters[1].Values: ...").
Result<Filters> parse_filters(const protocol::Json& json, const FilterSchema& schema);

// Whether `row` passes every filter (true when there are none).
bool matches(const Filters& filters, const FilterSchema& schema, const protocol::Json& row);

}  // namespace amid
