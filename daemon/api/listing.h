// What the Describe actions share: Filters (filters.h), MaxResults and NextToken,
// as EC2 has them.
//
// Paging orders the rows by a key (their id) and carries the last key returned
// in an opaque NextToken: base64 of {"Action": "DescribeImages", "After": [id]}.
// A page is the first MaxResults rows after that key, so rows added or removed
// between pages shift nothing: no row is returned twice or skipped over. A token
// that does not decode, or that another action issued, is InvalidNextToken.
// Without MaxResults and NextToken nothing is paged and the rows keep their order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/protocol.h"
#include "daemon/api/filters.h"
#include "daemon/api/params.h"

namespace amid {

struct ListingSpec {
  std::string action;            // "DescribeImages": the action that issues and takes its tokens
  const FilterSchema* filters;   // nullptr: the action takes no Filters
  std::int64_t min_results, max_results;  // MaxResults' range (EC2's, per action)
  std::vector<std::string> key;  // JSON pointers to the string fields that order rows: {"/ImageId"}
};

class Listing {
 public:
  // Reads Filters, MaxResults and NextToken. `ids_given`: the request named ids
  // (ImageIds, ...), which EC2 refuses with MaxResults or NextToken
  // (InvalidParameterCombination naming `ids_field`). Throws AmidError.
  Listing(ListingSpec spec, ParamReader& params, bool ids_given = false, const std::string& ids_field = "");

  // Whether the row passes the filters.
  bool wants(const protocol::Json& row) const;
  // Keeps one page of `rows` (ordered by the key when paging); returns the
  // NextToken for the rest, or "" when this page is the last.
  std::string take_page(std::vector<protocol::Json>& rows) const;

  // For an action that selects its page before rendering the rows (DescribeImages
  // over a large catalog), with the same result as wants + take_page:
  bool paged() const { return max_results_.has_value() || after_.has_value(); }
  const std::optional<std::int64_t>& max_results() const { return max_results_; }
  const std::optional<std::vector<std::string>>& after() const { return after_; }
  bool filtered() const { return spec_.filters && !filters_.empty(); }
  // The top-level fields of a row that the filters read ("Tags" for tag filters):
  // a row holding only those is matched as the whole row is.
  std::vector<std::string> filter_fields() const;
  // For each filter whose field has a catalog column: the column and its values
  // (EC2 wildcard patterns), for the catalog to narrow rows with.
  std::vector<std::pair<std::string, std::vector<std::string>>> column_globs() const;
  // The NextToken that continues after the row whose key is `after`.
  std::string next_token(const std::vector<std::string>& after) const;

 private:
  ListingSpec spec_;
  Filters filters_;
  std::optional<std::int64_t> max_results_;
  std::optional<std::vector<std::string>> after_;  // from NextToken
};

// The token that continues `action` after the row whose key is `after`.
std::string encode_next_token(const std::string& action, const std::vector<std::string>& after);
// The key a token continues after; InvalidNextToken when it is not a token of
// `action` with a key of `key_size` strings.
Result<std::vector<std::string>> decode_next_token(const std::string& token, const std::string& action,
                                                   std::size_t key_size);

}  // namespace amid
