// cli/output.h and cli/exit_codes.h: what amictl prints (tables as golden
// files, tests/data/golden/table.txt) and the fixed exit codes scripts rely on.
#include "cli/output.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "cli/exit_codes.h"
#include "common/error.h"
#include "tests/unit/test_support.h"

namespace amid::cli {
namespace {

using protocol::Json;

const std::vector<std::string> kHeaders = {"IMAGE ID", "NAME", "STATE", "SIZE GIB"};
const std::vector<std::vector<std::string>> kRows = {
    {"ami-0123456789abcdef0", "debian-12 tiny", "available", "1"},
    {"ami-0fedcba9876543210", "x", "pending", "-"},
    {"ami-00000000000000001", "a much longer image name (v2)", "failed", "120"},
};

TEST(RenderTable, MatchesGolden) { AMID_EXPECT_GOLDEN("table.txt", render_table(kHeaders, kRows)); }

TEST(RenderTable, AlignsEveryColumnAndLeavesNoTrailingSpace) {
  std::string table = render_table(kHeaders, kRows);
  std::istringstream in(table);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), kRows.size() + 1);
  // Each column starts where its header starts.
  for (size_t col = 1; col < kHeaders.size(); ++col) {
    size_t start = lines[0].find(kHeaders[col]);
    ASSERT_NE(start, std::string::npos);
    for (size_t r = 0; r < kRows.size(); ++r) {
      if (col >= kRows[r].size()) continue;
      EXPECT_EQ(lines[r + 1].substr(start, kRows[r][col].size()), kRows[r][col]) << "row " << r;
      EXPECT_EQ(lines[r + 1][start - 1], ' ');
      EXPECT_EQ(lines[r + 1][start - 2], ' ') << "columns are two spaces apart at least";
    }
  }
  for (const auto& line : lines) {
    ASSERT_FALSE(line.empty());
    EXPECT_NE(line.back(), ' ') << "'" << line << "'";
  }
}

TEST(RenderTable, AShortRowGetsEmptyCellsAndKeepsTheColumnsAligned) {
  std::string table = render_table({"A", "B", "C"}, {{"1", "2", "3"}, {"long value"}});
  std::istringstream in(table);
  std::string header, full, shorter;
  std::getline(in, header);
  std::getline(in, full);
  std::getline(in, shorter);
  EXPECT_EQ(header.find('B'), full.find('2'));
  EXPECT_EQ(header.find('C'), full.find('3'));
  EXPECT_EQ(shorter.rfind("long value", 0), 0u);
  EXPECT_EQ(shorter.find_first_not_of(' ', 10), std::string::npos) << "'" << shorter << "'";
}

TEST(RenderTable, HeaderOnlyWhenThereAreNoRows) {
  EXPECT_EQ(render_table({"A", "B"}, {}), "A  B\n");
}

TEST(Field, ReadsValuesAtAPointer) {
  Json j = {{"ImageId", "ami-0123456789abcdef0"},
            {"State", {{"Name", "running"}, {"Code", 16}}},
            {"Public", false},
            {"BlockDeviceMappings", {{{"Ebs", {{"VolumeSize", 8}}}}}}};
  EXPECT_EQ(field(j, "/ImageId"), "ami-0123456789abcdef0");
  EXPECT_EQ(field(j, "/State/Name"), "running");
  EXPECT_EQ(field(j, "/State/Code"), "16");
  EXPECT_EQ(field(j, "/Public"), "false");
  EXPECT_EQ(field(j, "/BlockDeviceMappings/0/Ebs/VolumeSize"), "8");
}

TEST(Field, MissingEmptyOrNullIsADash) {
  Json j = {{"Name", ""}, {"Description", nullptr}, {"State", {{"Name", "running"}}},
            {"BlockDeviceMappings", Json::array()}};
  EXPECT_EQ(field(j, "/Absent"), "-");
  EXPECT_EQ(field(j, "/Name"), "-");
  EXPECT_EQ(field(j, "/Description"), "-");
  EXPECT_EQ(field(j, "/State/Code"), "-");
  EXPECT_EQ(field(j, "/Absent/Deeper"), "-");
  EXPECT_EQ(field(j, "/BlockDeviceMappings/0/Ebs/VolumeSize"), "-");
  EXPECT_EQ(field(Json::object(), "/Placement/AvailabilityZone"), "-");
}

TEST(PrintRows, TextIsTabSeparatedAndJsonIsTheWholeAnswer) {
  Json answer = {{"Images", {{{"ImageId", "ami-0123456789abcdef0"}, {"Name", "web"}},
                             {{"ImageId", "ami-0fedcba9876543210"}}}}};
  std::vector<Column> columns = {{"IMAGE ID", [](const Json& j) { return field(j, "/ImageId"); }},
                                 {"NAME", [](const Json& j) { return field(j, "/Name"); }}};
  Client client("/nonexistent/amid.sock");  // never connected: print_rows does not call amid
  std::ostringstream out, err;

  Context text{client, Format::kText, out, err};
  print_rows(text, answer, answer["Images"], columns);
  EXPECT_EQ(out.str(), "ami-0123456789abcdef0\tweb\nami-0fedcba9876543210\t-\n");

  out.str("");
  Context json{client, Format::kJson, out, err};
  print_rows(json, answer, answer["Images"], columns);
  EXPECT_EQ(Json::parse(out.str()), answer);

  out.str("");
  Context table{client, Format::kTable, out, err};
  print_rows(table, answer, answer["Images"], columns);
  EXPECT_EQ(out.str(), render_table({"IMAGE ID", "NAME"}, {{"ami-0123456789abcdef0", "web"},
                                                           {"ami-0fedcba9876543210", "-"}}));
  EXPECT_EQ(err.str(), "");
}

TEST(PrintRows, ANextTokenTellsPeopleHowToGetTheNextPage) {
  Json answer = {{"Images", {{{"ImageId", "ami-0123456789abcdef0"}}}}, {"NextToken", "eyJ0b2tlbiI6MX0="}};
  std::vector<Column> columns = {{"IMAGE ID", [](const Json& j) { return field(j, "/ImageId"); }}};
  Client client("/nonexistent/amid.sock");
  std::ostringstream out, err;
  Context table{client, Format::kTable, out, err};
  print_rows(table, answer, answer["Images"], columns);
  EXPECT_EQ(out.str(), "IMAGE ID\nami-0123456789abcdef0\n"
                       "(more results: run the same command with --next-token eyJ0b2tlbiI6MX0=)\n");

  // Text keeps stdout to rows (pipelines); the hint goes to stderr. JSON has the field.
  out.str("");
  Context text{client, Format::kText, out, err};
  print_rows(text, answer, answer["Images"], columns);
  EXPECT_EQ(out.str(), "ami-0123456789abcdef0\n");
  EXPECT_EQ(err.str(), next_page_hint("eyJ0b2tlbiI6MX0="));
  out.str("");
  Context json{client, Format::kJson, out, err};
  print_rows(json, answer, answer["Images"], columns);
  EXPECT_EQ(Json::parse(out.str())["NextToken"], "eyJ0b2tlbiI6MX0=");
}

TEST(ExitCodes, NotFoundIsFour) {
  EXPECT_EQ(exit_code_for(codes::kInvalidAmiIdNotFound), 4);
  EXPECT_EQ(exit_code_for(codes::kInvalidInstanceIdNotFound), 4);
  EXPECT_EQ(exit_code_for(codes::kInvalidVolumeNotFound), 4);
  EXPECT_EQ(exit_code_for("InvalidGroup.NotFound"), 4);
  EXPECT_EQ(exit_code_for("InvalidPermission.NotFound"), 4);
  EXPECT_EQ(exit_code_for("InvalidGroup.Duplicate"), 2);
  EXPECT_EQ(exit_code_for("InvalidPermission.Duplicate"), 2);
  EXPECT_EQ(exit_code_for("InvalidGroupId.Malformed"), 2);
  EXPECT_EQ(exit_code_for("RulesPerSecurityGroupLimitExceeded"), 2);
  EXPECT_EQ(exit_code_for("DependencyViolation"), 5);
  EXPECT_EQ(exit_code_for("CannotDelete"), 5);
  EXPECT_EQ(exit_code_for(codes::kInvalidSnapshotNotFound), 4);
}

TEST(ExitCodes, WrongStateIsFive) {
  EXPECT_EQ(exit_code_for(codes::kIncorrectInstanceState), 5);
  EXPECT_EQ(exit_code_for(codes::kInvalidAmiIdUnavailable), 5);
  EXPECT_EQ(exit_code_for(codes::kUnsupportedOperation), 5);
  EXPECT_EQ(exit_code_for(codes::kOperationNotPermitted), 5) << "a protected image";
}

TEST(ExitCodes, BadArgumentsIsTwo) {
  for (const char* code : {codes::kInvalidParameterValue, codes::kInvalidDisk, codes::kMissingParameter,
                           codes::kUnknownParameter, codes::kInvalidAction, codes::kMalformedRequest,
                           codes::kInvalidAmiIdMalformed, codes::kInvalidInstanceIdMalformed,
                           codes::kInvalidAmiNameMalformed, codes::kInvalidAmiNameDuplicate,
                           codes::kIdempotentParameterMismatch, codes::kInvalidVolumeIdMalformed,
                           codes::kInvalidSnapshotIdMalformed, codes::kInvalidId, codes::kInvalidNextToken,
                           codes::kInvalidParameterCombination, codes::kTagLimitExceeded}) {
    EXPECT_EQ(exit_code_for(code), 2) << code;
  }
}

TEST(ExitCodes, EverythingElseIsOne) {
  for (const char* code : {codes::kInternalError, codes::kAuthFailure, codes::kInsufficientCapacity,
                           codes::kRequestTimeout, "", "SomethingNew"}) {
    EXPECT_EQ(exit_code_for(code), 1) << code;
  }
}

TEST(ExitCodes, RefusedForLoadIsSevenSoScriptsKnowToRetry) {
  EXPECT_EQ(exit_code_for(codes::kRequestLimitExceeded), 7);
}

TEST(ExitCodes, AreTheDocumentedNumbers) {
  EXPECT_EQ(kOk, 0);
  EXPECT_EQ(kFailed, 1);
  EXPECT_EQ(kBadArguments, 2);
  EXPECT_EQ(kUnreachable, 3);
  EXPECT_EQ(kNotFound, 4);
  EXPECT_EQ(kWrongState, 5);
  EXPECT_EQ(kTimedOut, 6);
  EXPECT_EQ(kBusy, 7);
}

}  // namespace
}  // namespace amid::cli
