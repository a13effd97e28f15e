// common/protocol.h: the request decoder refuses anything but the one request
// shape, with the field named; encoders and decoders round-trip.
#include "common/protocol.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/test_support.h"

namespace amid::protocol {
namespace {

using ::amid::testing::has_substr;

// A request whose Parameters hold arrays nested so that the whole line nests
// exactly `depth` levels (the outer object and Parameters count).
std::string request_with_depth(int depth) {
  std::string inner;
  for (int i = 2; i < depth; ++i) inner += "[";
  inner += "1";
  for (int i = 2; i < depth; ++i) inner += "]";
  if (depth <= 2) return R"({"Version":1,"Action":"A","Parameters":{"X":1}})";
  return R"({"Version":1,"Action":"A","Parameters":{"X":)" + inner + "}}";
}

TEST(ParseRequest, AcceptsAWellFormedRequest) {
  auto r = parse_request(
      R"({"Version":1,"Action":"DescribeImages","Parameters":{"ImageIds":["ami-0123456789abcdef0"]}})");
  ASSERT_TRUE(r.ok()) << r.problem().message;
  EXPECT_EQ(r.value().action, "DescribeImages");
  EXPECT_EQ(r.value().parameters, Json::parse(R"({"ImageIds":["ami-0123456789abcdef0"]})"));
}

TEST(ParseRequest, MissingParametersMeansAnEmptyObject) {
  auto r = parse_request(R"({"Version":1,"Action":"DescribeImages"})");
  ASSERT_TRUE(r.ok()) << r.problem().message;
  EXPECT_TRUE(r.value().parameters.is_object());
  EXPECT_TRUE(r.value().parameters.empty());
}

TEST(ParseRequest, RefusesTextThatIsNotJson) {
  for (const char* line : {"", "hello", "{", R"({"Version":1,"Action":"A")", "{'Action':'A'}",
                           R"({"Version":1,"Action":"A"} trailing)"}) {
    auto r = parse_request(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.problem().code, codes::kMalformedRequest) << line;
    EXPECT_TRUE(has_substr(r.problem().message, "not valid JSON")) << line;
  }
}

TEST(ParseRequest, RefusesJsonThatIsNotAnObject) {
  for (const char* line : {"[1,2]", R"("DescribeImages")", "42", "null", "true"}) {
    auto r = parse_request(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.problem().code, codes::kMalformedRequest) << line;
    EXPECT_TRUE(has_substr(r.problem().message, "JSON object")) << line;
  }
}

TEST(ParseRequest, RefusesAVersionOtherThanOne) {
  for (const char* version : {"2", "0", "-1", R"("1")", "1.0", "1.5", "null", "[1]", "true"}) {
    std::string line = std::string(R"({"Version":)") + version + R"(,"Action":"DescribeImages"})";
    auto r = parse_request(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.problem().code, codes::kMalformedRequest) << line;
    EXPECT_TRUE(has_substr(r.problem().message, "Version")) << line;
  }
}

TEST(ParseRequest, RefusesAMissingVersion) {
  auto r = parse_request(R"({"Action":"DescribeImages","Parameters":{}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, codes::kMissingParameter);
  EXPECT_TRUE(has_substr(r.problem().message, "Version: missing"));
}

TEST(ParseRequest, RefusesAMissingOrEmptyAction) {
  for (const char* line : {R"({"Version":1})", R"({"Version":1,"Parameters":{}})",
                           R"({"Version":1,"Action":""})"}) {
    auto r = parse_request(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.problem().code, codes::kMissingParameter) << line;
    EXPECT_TRUE(has_substr(r.problem().message, "Action")) << line;
  }
}

TEST(ParseRequest, RefusesAnActionThatIsNotAString) {
  for (const char* line : {R"({"Version":1,"Action":7})", R"({"Version":1,"Action":["A"]})",
                           R"({"Version":1,"Action":null})"}) {
    auto r = parse_request(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.problem().code, codes::kMalformedRequest) << line;
    EXPECT_TRUE(has_substr(r.problem().message, "Action")) << line;
  }
}

TEST(ParseRequest, RefusesAnUnknownTopLevelFieldAndNamesIt) {
  auto r = parse_request(R"({"Version":1,"Action":"DescribeImages","DryRun":true})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, codes::kUnknownParameter);
  EXPECT_TRUE(has_substr(r.problem().message, "'DryRun'"));
}

TEST(ParseRequest, RefusesParametersThatAreNotAnObject) {
  for (const char* params : {"[]", R"("x")", "1", "null", "[{}]"}) {
    std::string line = std::string(R"({"Version":1,"Action":"A","Parameters":)") + params + "}";
    auto r = parse_request(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.problem().code, codes::kMalformedRequest) << line;
    EXPECT_TRUE(has_substr(r.problem().message, "Parameters")) << line;
  }
}

TEST(ParseRequest, RefusesHostileNestingBeforeParsing) {
  // Not valid JSON either: the depth message proves the depth check ran first.
  auto r = parse_request(std::string(100000, '['));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, codes::kMalformedRequest);
  EXPECT_TRUE(has_substr(r.problem().message, "deeper than " + std::to_string(kMaxDepth)));
}

TEST(ParseRequest, AcceptsNestingUpToTheLimitAndRefusesOneMore) {
  ASSERT_EQ(nesting_depth(request_with_depth(kMaxDepth)), kMaxDepth);
  auto at_limit = parse_request(request_with_depth(kMaxDepth));
  EXPECT_TRUE(at_limit.ok()) << at_limit.problem().message;

  auto past = parse_request(request_with_depth(kMaxDepth + 1));
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.problem().code, codes::kMalformedRequest);
  EXPECT_TRUE(has_substr(past.problem().message, "deeper than"));
}

TEST(ParseRequest, HonoursACallerChosenDepthLimit) {
  EXPECT_TRUE(parse_request(request_with_depth(4), 4).ok());
  EXPECT_FALSE(parse_request(request_with_depth(5), 4).ok());
}

TEST(EncodeRequest, RoundTripsThroughParseRequest) {
  Request req;
  req.action = "RunInstances";
  req.parameters = {{"ImageId", "ami-0123456789abcdef0"},
                    {"MaxCount", 3},
                    {"UserData", "line one\nline \"two\"\t\\"},
                    {"Tags", Json::array({"a", "b"})}};
  std::string line = encode_request(req);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one request must be exactly one line";

  auto back = parse_request(line.substr(0, line.size() - 1));
  ASSERT_TRUE(back.ok()) << back.problem().message;
  EXPECT_EQ(back.value().action, req.action);
  EXPECT_EQ(back.value().parameters, req.parameters);
}

TEST(EncodeResponse, OkAnswerRoundTrips) {
  Json body = {{"Images", Json::array({{{"ImageId", "ami-0123456789abcdef0"}, {"Name", "x\ny"}}})}};
  std::string line = encode_ok("req-1", body);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto r = parse_response(line.substr(0, line.size() - 1));
  ASSERT_TRUE(r.ok()) << r.problem().message;
  EXPECT_TRUE(r.value().ok);
  EXPECT_EQ(r.value().request_id, "req-1");
  EXPECT_EQ(r.value().body, body);
}

TEST(EncodeResponse, AListingWrittenRowByRowIsEncodeOksLine) {
  const std::vector<Json> rows = {{{"ImageId", "ami-1"}, {"Name", "a\"b"}}, {{"ImageId", "ami-2"}}};
  auto source = [&](const std::string& token) {
    return [&rows, token](const RowSink& sink) {
      for (const Json& row : rows) sink(row);
      return token;
    };
  };
  EXPECT_EQ(encode_ok_listing("req-1", "Images", source("")), encode_ok("req-1", {{"Images", rows}}));
  EXPECT_EQ(encode_ok_listing("req-1", "Images", source("tok")),
            encode_ok("req-1", {{"Images", rows}, {"NextToken", "tok"}}));
  EXPECT_EQ(encode_ok_listing("req-1", "Images", [](const RowSink&) { return std::string(); }),
            encode_ok("req-1", {{"Images", Json::array()}}));
}

TEST(EncodeResponse, ErrorAnswerRoundTrips) {
  std::string line = encode_error("req-2", codes::kInvalidAmiIdNotFound, "The image id 'ami-1' \"x\"");
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto r = parse_response(line);
  ASSERT_TRUE(r.ok()) << r.problem().message;
  EXPECT_FALSE(r.value().ok);
  EXPECT_EQ(r.value().request_id, "req-2");
  EXPECT_EQ(r.value().error_code, codes::kInvalidAmiIdNotFound);
  EXPECT_EQ(r.value().error_message, "The image id 'ami-1' \"x\"");
}

TEST(EncodeResponse, InvalidUtf8IsReplacedNotThrown) {
  // Console output or a file name may hold any bytes; the answer must still be JSON.
  std::string bad = "caf\xc3";  // truncated UTF-8 sequence
  std::string ok_line, err_line;
  ASSERT_NO_THROW(ok_line = encode_ok("r", {{"Output", bad}}));
  ASSERT_NO_THROW(err_line = encode_error("r", codes::kInternalError, bad));
  EXPECT_TRUE(parse_response(ok_line).ok());
  EXPECT_TRUE(parse_response(err_line).ok());
}

TEST(ParseResponse, RefusesAnswersThatAreNotAnswers) {
  for (const char* line : {"", "garbage", "[]", R"({"RequestId":"r"})", R"({"Response":[]})"}) {
    auto r = parse_response(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.problem().code, codes::kInternalError) << line;
  }
}

TEST(ParseResponse, ErrorWithoutCodeIsAnInternalError) {
  auto r = parse_response(R"({"RequestId":"r","Error":{"Message":"boom"}})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().ok);
  EXPECT_EQ(r.value().error_code, codes::kInternalError);
  EXPECT_EQ(r.value().error_message, "boom");
}

TEST(NestingDepth, CountsObjectsAndArrays) {
  EXPECT_EQ(nesting_depth(""), 0);
  EXPECT_EQ(nesting_depth("42"), 0);
  EXPECT_EQ(nesting_depth("{}"), 1);
  EXPECT_EQ(nesting_depth("[[],[]]"), 2);
  EXPECT_EQ(nesting_depth(R"({"a":[1,{"b":[]}],"c":{}})"), 4);
}

TEST(NestingDepth, IgnoresBracketsInsideStrings) {
  EXPECT_EQ(nesting_depth(R"("[[[[{{{{")"), 0);
  EXPECT_EQ(nesting_depth(R"({"a":"[[[[","b":"}}}}]]]]"})"), 1);
}

TEST(NestingDepth, EscapedQuotesDoNotEndAString) {
  // \" stays inside the string, so the brackets after it are text.
  EXPECT_EQ(nesting_depth(R"({"a":"x\"[[[[ "})"), 1);
  // \\ is a complete escape: the quote after it does end the string.
  EXPECT_EQ(nesting_depth(R"({"a":"x\\","b":[[1]]})"), 3);
  EXPECT_EQ(nesting_depth(R"({"a":"\\\"[[","b":[1]})"), 2);
}

TEST(NestingDepth, AHostileStringCannotHideRealNesting) {
  std::string deep = R"({"a":"\"",)" + std::string(50, '[');
  EXPECT_GE(nesting_depth(deep), 50);
}

}  // namespace
}  // namespace amid::protocol
