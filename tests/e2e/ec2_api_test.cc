// End to end: the real AWS CLI (Debian's awscli, /usr/bin/aws) drives amid
// through EC2's Query API on a loopback port, with nothing changed in it but
// the endpoint and the keys: an access key from amictl, the seed's lab
// walkthrough on the tiny template (register, launch with user data and a
// mapping, wait, console, create-image, wait, launch from it, filter, tag,
// terminate, deregister), and the errors a script relies on, raised by the
// CLI with EC2's codes. boto3 (Debian's) and the AWS SDK for JavaScript v3
// (tests/sdk/, from npm) run the same walkthrough as scripts of their own,
// with each SDK's waiters and paginators and a few errors more.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;

const char* kAws = "/usr/bin/aws";

// Starts amid with its EC2 endpoint on a free loopback port; answers the
// endpoint its log names ("" when none).
std::string start_with_ec2_endpoint(Amid& amid) {
  const std::string config = amid.dir() + "/amid.toml";
  std::ofstream(config) << "[ec2_api]\nlisten = \"127.0.0.1:0\"\n";
  amid.start({"--config", config});
  std::smatch m;
  const std::string log = read_file(amid.log());
  if (std::regex_search(log, m, std::regex("EC2 API on (http://127\\.0\\.0\\.1:[0-9]+)"))) return m[1];
  return "";
}

// amid with its EC2 endpoint; the CLI's files in the test's folder.
class AwsCli {
 public:
  explicit AwsCli(Amid& amid) : amid_(amid), endpoint_(start_with_ec2_endpoint(amid)) {}

  const std::string& endpoint() const { return endpoint_; }

  // `aws ec2 ARGS...` as a user who ran `aws configure` with `credentials`.
  Result ec2(std::vector<std::string> args, const std::string& credentials) {
    std::vector<std::string> argv = {kAws, "--endpoint-url", endpoint_, "--region", "local-1", "--output", "json", "ec2"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {"HOME=" + amid_.dir(), "AWS_SHARED_CREDENTIALS_FILE=" + credentials,
                      "AWS_CONFIG_FILE=" + amid_.dir() + "/no-aws-config",
                      // Never ask 169.254.169.254 for credentials or a region: this host is not a guest.
                      "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=2"});
  }

 private:
  Amid& amid_;
  std::string endpoint_;
};

std::string error_code_of(const Result& r) {
  std::smatch m;
  if (std::regex_search(r.err, m, std::regex("An error occurred \\(([A-Za-z.]+)\\)"))) return m[1];
  return "<no error code in: " + r.err + ">";
}

TEST(Ec2Api, TheAwsCliRunsTheLabWalkthroughAndGetsEc2sErrors) {
  if (::access(kAws, X_OK) != 0) {
    FAIL() << kAws << " is missing: scripts/install-deps installs Debian's awscli";
  }
  Amid amid;
  AwsCli aws(amid);
  ASSERT_FALSE(aws.endpoint().empty()) << "amid's log names no EC2 API endpoint:\n" << read_file(amid.log());

  // The access key, saved as the AWS CLI's credentials file.
  const std::string credentials = amid.dir() + "/credentials";
  Result key = amid.amictl({"create-access-key", "--save-to", credentials});
  ASSERT_EQ(key.exit_code, 0) << key.err;

  // register-image: EC2's ImageLocation names the disk.
  Result reg = aws.ec2({"register-image", "--name", "tiny", "--image-location", tiny_image()}, credentials);
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  const std::string image = Json::parse(reg.out)["ImageId"];
  ASSERT_EQ(image.rfind("ami-", 0), 0u) << reg.out;

  // run-instances with user data (the CLI base64-encodes it) and a mapping as EC2's JSON.
  Result ran = aws.ec2({"run-instances", "--image-id", image, "--instance-type", "t3.nano", "--user-data",
                        "echo lab-user-data-ran", "--block-device-mappings",
                        R"([{"DeviceName":"/dev/sdb","Ebs":{"VolumeSize":1,"DeleteOnTermination":true}}])"},
                       credentials);
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const std::string instance = Json::parse(ran.out)["Instances"][0]["InstanceId"];
  Result running = aws.ec2({"wait", "instance-running", "--instance-ids", instance}, credentials);
  ASSERT_EQ(running.exit_code, 0) << running.err;

  // get-console-output until the guest's ready line; the CLI shows its text.
  std::string console;
  for (int i = 0; i < 120 && console.find("amid-tiny: ready") == std::string::npos; ++i) {
    Result out = aws.ec2({"get-console-output", "--instance-id", instance, "--output", "text"}, credentials);
    ASSERT_EQ(out.exit_code, 0) << out.err;
    console = out.out;
    if (console.find("amid-tiny: ready") == std::string::npos) ::sleep(1);
  }
  ASSERT_NE(console.find("amid-tiny: ready"), std::string::npos) << console;
  EXPECT_NE(console.find("lab-user-data-ran"), std::string::npos) << "the user data's output:\n" << console;

  // create-image (no reboot), wait image-available, launch from it.
  Result made = aws.ec2({"create-image", "--instance-id", instance, "--name", "lab-custom", "--no-reboot"}, credentials);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string custom = Json::parse(made.out)["ImageId"];
  Result available = aws.ec2({"wait", "image-available", "--image-ids", custom}, credentials);
  ASSERT_EQ(available.exit_code, 0) << available.err;
  Result second = aws.ec2({"run-instances", "--image-id", custom, "--instance-type", "t3.nano"}, credentials);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const std::string second_id = Json::parse(second.out)["Instances"][0]["InstanceId"];

  // describe-images with a filter, create-tags, describe-instances.
  Result filtered = aws.ec2({"describe-images", "--filters", "Name=name,Values=lab-*"}, credentials);
  ASSERT_EQ(filtered.exit_code, 0) << filtered.err;
  Json images = Json::parse(filtered.out)["Images"];
  ASSERT_EQ(images.size(), 1u) << filtered.out;
  EXPECT_EQ(images[0]["ImageId"], custom);
  EXPECT_EQ(images[0]["State"], "available");
  EXPECT_EQ(images[0]["RootDeviceType"], "ebs");
  Result tagged = aws.ec2({"create-tags", "--resources", custom, "--tags", "Key=lab,Value=web"}, credentials);
  ASSERT_EQ(tagged.exit_code, 0) << tagged.err;
  Result by_tag = aws.ec2({"describe-images", "--filters", "Name=tag:lab,Values=web", "--query", "Images[].ImageId",
                           "--output", "text"},
                          credentials);
  EXPECT_EQ(by_tag.out, custom + "\n") << by_tag.err;
  Result described = aws.ec2({"describe-instances", "--instance-ids", second_id}, credentials);
  ASSERT_EQ(described.exit_code, 0) << described.err;
  Json second_instance = Json::parse(described.out)["Reservations"][0]["Instances"][0];
  EXPECT_EQ(second_instance["ImageId"], custom);

  // The errors scripts catch, as the CLI raises them.
  EXPECT_EQ(error_code_of(aws.ec2({"describe-images", "--image-ids", "ami-00000000000000000"}, credentials)),
            "InvalidAMIID.NotFound");
  EXPECT_EQ(error_code_of(aws.ec2({"terminate-instances", "--instance-ids", second_id, "--dry-run"}, credentials)),
            "DryRunOperation");
  const std::string wrong = amid.dir() + "/wrong-credentials";
  {
    std::string s = read_file(credentials);
    auto at = s.find("aws_secret_access_key = ");
    ASSERT_NE(at, std::string::npos) << s;
    s[at + 24] = s[at + 24] == 'A' ? 'B' : 'A';  // one character of the secret changed
    std::ofstream(wrong) << s;
  }
  EXPECT_EQ(error_code_of(aws.ec2({"describe-images"}, wrong)), "SignatureDoesNotMatch");

  // terminate, wait terminated; a terminated instance cannot start; deregister.
  Result terminated = aws.ec2({"terminate-instances", "--instance-ids", instance, second_id}, credentials);
  ASSERT_EQ(terminated.exit_code, 0) << terminated.err;
  Result gone = aws.ec2({"wait", "instance-terminated", "--instance-ids", instance, second_id}, credentials);
  ASSERT_EQ(gone.exit_code, 0) << gone.err;
  EXPECT_EQ(error_code_of(aws.ec2({"start-instances", "--instance-ids", instance}, credentials)),
            "IncorrectInstanceState");
  Result dereg = aws.ec2({"deregister-image", "--image-id", custom}, credentials);
  EXPECT_EQ(dereg.exit_code, 0) << dereg.err;
  // Nothing the dry run or the refused requests asked for happened: only the tagged image is gone.
  Result left = aws.ec2({"describe-images", "--query", "Images[].ImageId", "--output", "text"}, credentials);
  EXPECT_EQ(left.out, image + "\n") << left.err;
}

// An SDK's lab script (tests/sdk/) against a fresh amid, with a new access key
// from amictl in its environment; the script checks every step itself and
// exits 0 when all held. Its step lines (with their times) go to the test's output.
void run_sdk_lab(const std::vector<std::string>& argv) {
  Amid amid;
  const std::string endpoint = start_with_ec2_endpoint(amid);
  ASSERT_FALSE(endpoint.empty()) << "amid's log names no EC2 API endpoint:\n" << read_file(amid.log());
  Result key = amid.amictl({"create-access-key", "--output", "json"});
  ASSERT_EQ(key.exit_code, 0) << key.err;
  const Json access_key = Json::parse(key.out)["AccessKey"];
  Result lab = run(argv, {"AMID_EC2_ENDPOINT=" + endpoint,
                          "AWS_ACCESS_KEY_ID=" + access_key["AccessKeyId"].get<std::string>(),
                          "AWS_SECRET_ACCESS_KEY=" + access_key["SecretAccessKey"].get<std::string>(),
                          "AMID_TINY_IMAGE=" + tiny_image(),
                          // No shared files of the host's user, no proxy for loopback, and
                          // never 169.254.169.254 for credentials or a region: this host is not a guest.
                          "HOME=" + amid.dir(), "AWS_CONFIG_FILE=" + amid.dir() + "/no-aws-config",
                          "AWS_SHARED_CREDENTIALS_FILE=" + amid.dir() + "/no-aws-credentials",
                          "AWS_EC2_METADATA_DISABLED=true", "NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1"});
  std::cout << lab.out;
  ASSERT_EQ(lab.exit_code, 0) << argv.back() << " failed; its output:\n" << lab.out << "\nstderr:\n" << lab.err;
}

const std::string kSdkDir = std::string(AMID_SOURCE_DIR) + "/tests/sdk";

TEST(Ec2Api, Boto3RunsTheLabWalkthroughAndGetsEc2sErrors) {
  // Debian's python3-boto3 is Debian's python's: /usr/bin/python3, not a python3 earlier on PATH.
  const char* python = "/usr/bin/python3";
  Result boto3 = run({python, "-c", "import boto3"});
  if (boto3.exit_code != 0) {
    FAIL() << python << " cannot import boto3 (" << boto3.err << "): scripts/install-deps installs python3-boto3";
  }
  run_sdk_lab({python, kSdkDir + "/lab_boto3.py"});
}

TEST(Ec2Api, TheJavaScriptSdkRunsTheLabWalkthroughAndGetsEc2sErrors) {
  const char* node = "/usr/bin/node";
  if (::access(node, X_OK) != 0) {
    FAIL() << node << " is missing: install Node.js 20 and npm, then run scripts/install-deps";
  }
  if (!std::filesystem::exists(kSdkDir + "/node_modules/@aws-sdk/client-ec2/package.json")) {
    FAIL() << kSdkDir << "/node_modules has no @aws-sdk/client-ec2: run scripts/install-deps (it runs npm ci there)";
  }
  run_sdk_lab({node, kSdkDir + "/lab.mjs"});
}

}  // namespace
}  // namespace amid::e2e
