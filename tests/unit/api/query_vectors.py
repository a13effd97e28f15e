#!/usr/bin/env python3
"""Test vectors for daemon/api/query_protocol from the real botocore.

Requests: botocore's EC2 serializer (the one the AWS CLI and boto3 use) turns a few
real requests into form parameters; each vector is the form and the JSON Parameters
amid should read from it (the request as given, blobs base64, timestamps as botocore
writes them).

Responses (--driver-check): a few amid answers are turned into XML by amid's own
response_xml (a small driver compiled from daemon/api/query_protocol.cc with g++),
and botocore's EC2 parser must read each back to the answer it came from (amid's own
members aside: botocore knows only EC2's). Each vector is the answer and that XML.

    tests/unit/api/query_vectors.py                 # print the vectors as C++
    tests/unit/api/query_vectors.py --write         # rewrite them in query_protocol_test.cc
    tests/unit/api/query_vectors.py --driver-check  # only the botocore round trip, no writing

Run it with a python3 whose botocore has every operation used (pip's botocore on
the project's machines: `python3`; Debian 12's python3-botocore predates
EnableImageDeregistrationProtection and DescribeImages' MaxResults, and is skipped
where it lacks an operation or a member, with a note). Rerun --write after changing
the model (scripts/ec2-query-model) or response_xml.
"""

import argparse
import base64
import copy
import datetime
import json
import os
import subprocess
import sys
import tempfile

import botocore
import botocore.parsers
import botocore.serialize
import botocore.session
from botocore.utils import parse_timestamp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TEST_FILE = os.path.join(ROOT, "tests", "unit", "api", "query_protocol_test.cc")
BEGIN = "// BEGIN query_vectors.py output"
END = "// END query_vectors.py output"
REQUEST_ID = "5b9c6f3e-8d2a-4c1b-9e7f-0a1b2c3d4e5f"

AMI, AMI2 = "ami-0f3c9a1b2d4e5f607", "ami-00000000000000001"
INSTANCE, INSTANCE2 = "i-0123456789abcdef0", "i-0fedcba9876543210"
SG, SG2 = "sg-0123456789abcdef0", "sg-00000000000000002"

REQUESTS = [
    ("DescribeImages", {
        "ImageIds": [AMI, AMI2],
        "Owners": ["self", "000000001000"],
        "ExecutableUsers": ["all"],
        "IncludeDeprecated": True,
        "Filters": [{"Name": "state", "Values": ["available", "pending"]},
                    {"Name": "tag:Team", "Values": ["web*"]}],
    }),
    ("DescribeImages", {
        "Filters": [{"Name": "architecture", "Values": ["arm64"]}],
        "MaxResults": 5,
        "NextToken": "eyJhIjoiRGVzY3JpYmVJbWFnZXMifQ==",
        "DryRun": False,
    }),
    ("RunInstances", {
        "ImageId": AMI,
        "InstanceType": "t3.micro",
        "MinCount": 2,
        "MaxCount": 2,
        "KeyName": "my key",
        "SecurityGroupIds": [SG, SG2],
        "SecurityGroups": ["web"],
        "UserData": base64.b64encode(b"#!/bin/sh\necho hello > /tmp/x\n").decode(),
        "BlockDeviceMappings": [
            {"DeviceName": "/dev/vdb",
             "Ebs": {"VolumeSize": 2, "VolumeType": "gp3", "DeleteOnTermination": False}},
            {"DeviceName": "/dev/vdc", "VirtualName": "ephemeral0"},
            {"DeviceName": "/dev/vdd", "NoDevice": ""},
        ],
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "caf\u00e9 & <web>"},
                                                 {"Key": "Empty", "Value": ""}]},
            {"ResourceType": "volume", "Tags": [{"Key": "Team", "Value": "web"}]},
        ],
        "ClientToken": "launch-1",
    }),
    ("AuthorizeSecurityGroupIngress", {
        "GroupId": SG,
        "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh"},
                          {"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1,
             "IpRanges": [{"CidrIp": "192.168.0.0/16"}]},
        ],
    }),
    ("RevokeSecurityGroupIngress", {
        "GroupName": "web", "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0",
    }),
    ("ModifyImageAttribute", {
        "ImageId": AMI,
        "LaunchPermission": {"Add": [{"UserId": "000000002000"}, {"Group": "all"}],
                             "Remove": [{"UserId": "000000003000"}]},
    }),
    ("ModifyImageAttribute", {
        "ImageId": AMI, "Attribute": "launchPermission", "OperationType": "add",
        "UserIds": ["000000002000", "000000004000"], "UserGroups": ["all"],
    }),
    ("CreateTags", {
        "Resources": [AMI, INSTANCE],
        "Tags": [{"Key": "Team", "Value": "web"}, {"Key": "Note", "Value": ""}],
    }),
    ("DeleteTags", {"Resources": [INSTANCE], "Tags": [{"Key": "Team"}, {"Key": "Note", "Value": ""}]}),
    ("EnableImageDeprecation", {"ImageId": AMI, "DeprecateAt": "2027-06-15T13:17:00Z"}),
    ("EnableImageDeregistrationProtection", {"ImageId": AMI, "WithCooldown": True}),
    ("ImportKeyPair", {"KeyName": "laptop",
                       "PublicKeyMaterial": b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVzZXI me@host\n"}),
    ("StopInstances", {"InstanceIds": [INSTANCE, INSTANCE2], "Force": True}),
    ("CreateImage", {
        "InstanceId": INSTANCE, "Name": "web (2026-11-27)", "NoReboot": True,
        "BlockDeviceMappings": [{"DeviceName": "/dev/vdb", "NoDevice": ""}],
        "TagSpecifications": [{"ResourceType": "image", "Tags": [{"Key": "Team", "Value": "web"}]}],
    }),
    ("CopyImage", {"SourceRegion": "local-2", "SourceImageId": AMI, "Name": "copy", "CopyImageTags": True}),
    ("ModifyInstanceAttribute", {"InstanceId": INSTANCE, "Groups": [SG, SG2]}),
    ("GetConsoleOutput", {"InstanceId": INSTANCE, "Latest": True}),
    ("DescribeKeyPairs", {"KeyNames": ["laptop"], "IncludePublicKey": True,
                          "Filters": [{"Name": "key-type", "Values": ["ed25519"]}]}),
    ("CreateSecurityGroup", {
        "GroupName": "web", "Description": "web servers",
        "TagSpecifications": [{"ResourceType": "security-group", "Tags": [{"Key": "Team", "Value": "web"}]}],
    }),
    ("DescribeVolumes", {"Filters": [{"Name": "size", "Values": ["1", "2"]}], "MaxResults": 500}),
]

IMAGE = {
    "ImageId": AMI, "Name": "tiny", "Description": "", "OwnerId": "000000000000",
    "State": "available", "Architecture": "x86_64", "VirtualizationType": "hvm",
    "RootDeviceType": "ebs", "RootDeviceName": "/dev/vda", "CreationDate": "2026-11-27T03:49:17.248Z",
    "ImageType": "machine", "Hypervisor": "kvm", "Public": False, "ImageLocation": "000000000000/tiny",
    "DeregistrationProtection": "disabled", "DeprecationTime": "2027-06-15T13:17:00.000Z",
    "BlockDeviceMappings": [
        {"DeviceName": "/dev/vda", "Ebs": {"VolumeSize": 1, "DeleteOnTermination": True, "VolumeType": "gp3",
                                           "SnapshotId": "snap-00000000000000001"}},
        {"DeviceName": "/dev/vdc", "VirtualName": "ephemeral0"}],
    "Tags": [{"Key": "Name", "Value": "caf\u00e9 & <web>"}, {"Key": "Empty", "Value": ""}],
    # amid's own members: written, and unknown to botocore.
    "SourceInstanceId": INSTANCE, "Consistency": "filesystem-consistent", "FreezeMilliseconds": 41,
    "Progress": {"BytesDone": 512, "BytesTotal": 1024, "Percent": 50},
}

INSTANCE_JSON = {
    "InstanceId": INSTANCE, "ImageId": AMI, "InstanceType": "t3.nano",
    "State": {"Code": 16, "Name": "running"}, "LaunchTime": "2026-11-27T03:50:00.000Z",
    "Placement": {"AvailabilityZone": "local-1a", "Tenancy": "default"},
    "Architecture": "x86_64", "RootDeviceType": "ebs", "RootDeviceName": "/dev/vda",
    "VirtualizationType": "hvm", "Hypervisor": "kvm", "CpuOptions": {"CoreCount": 2, "ThreadsPerCore": 1},
    "StateTransitionReason": "", "AmiLaunchIndex": 0, "KeyName": "laptop",
    "VpcId": "vpc-00000000000000001", "SubnetId": "subnet-00000000000000001",
    "PrivateIpAddress": "10.11.0.5",
    "SecurityGroups": [{"GroupId": SG, "GroupName": "default"}],
    "BlockDeviceMappings": [{"DeviceName": "/dev/vda", "Ebs": {
        "VolumeId": "vol-00000000000000001", "Status": "attached", "AttachTime": "2026-11-27T03:50:01.000Z",
        "DeleteOnTermination": True}}],
    "Tags": [{"Key": "Name", "Value": "web"}],
    "PortForwards": [{"HostPort": 2222, "GuestPort": 22, "Protocol": "tcp"}],
}

RESPONSES = [
    ("DescribeImages", {"Images": [IMAGE], "NextToken": "eyJhIjoiRGVzY3JpYmVJbWFnZXMifQ=="}),
    ("DescribeImages", {"Images": []}),
    ("DescribeInstances", {"Reservations": [
        {"ReservationId": "r-00000000000000001", "OwnerId": "000000001000", "Instances": [INSTANCE_JSON]}]}),
    ("RunInstances", {"ReservationId": "r-00000000000000001", "OwnerId": "000000001000",
                      "Instances": [dict(INSTANCE_JSON, State={"Code": 0, "Name": "pending"})]}),
    ("TerminateInstances", {"TerminatingInstances": [
        {"InstanceId": INSTANCE, "PreviousState": {"Code": 16, "Name": "running"},
         "CurrentState": {"Code": 32, "Name": "shutting-down"}}]}),
    ("GetConsoleOutput", {"InstanceId": INSTANCE, "Timestamp": "2026-11-27T03:51:00.000Z",
                          "Output": base64.b64encode(b"login: ").decode()}),
    ("DescribeVolumes", {"Volumes": [{
        "VolumeId": "vol-00000000000000001", "Size": 1, "SnapshotId": "", "AvailabilityZone": "local-1a",
        "State": "in-use", "CreateTime": "2026-11-27T03:50:01.000Z", "VolumeType": "gp3", "Encrypted": False,
        "Attachments": [{"InstanceId": INSTANCE, "Device": "/dev/vda", "State": "attached",
                         "DeleteOnTermination": True}]}]}),
    ("DescribeImageAttribute", {"ImageId": AMI, "LaunchPermissions": [{"UserId": "000000002000"},
                                                                     {"Group": "all"}]}),
    ("CreateKeyPair", {"KeyPairId": "key-00000000000000001", "KeyName": "laptop", "KeyFingerprint": "ab:cd",
                       "KeyMaterial": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n"}),
    ("DescribeKeyPairs", {"KeyPairs": [{"KeyPairId": "key-00000000000000001", "KeyName": "laptop",
                                        "KeyType": "ed25519", "KeyFingerprint": "SHA256:abc=",
                                        "CreateTime": "2026-11-27T03:40:00.000Z",
                                        "PublicKey": "ssh-ed25519 AAAA laptop"}]}),
    ("DescribeSecurityGroups", {"SecurityGroups": [{
        "GroupId": SG, "GroupName": "web", "Description": "web servers", "OwnerId": "000000001000",
        "VpcId": "vpc-00000000000000001",
        "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                           "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh"}],
                           "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                                 "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}],
        "Tags": [{"Key": "Team", "Value": "web"}]}]}),
    ("AuthorizeSecurityGroupIngress", {"Return": True, "SecurityGroupRules": [{
        "SecurityGroupRuleId": "sgr-00000000000000001", "GroupId": SG, "GroupOwnerId": "000000001000",
        "IsEgress": False, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "0.0.0.0/0",
        "Description": "ssh"}]}),
    ("EnableImageDeregistrationProtection", {"Return": "enabled-with-cooldown"}),
    ("DescribeTags", {"Tags": [{"Key": "Team", "Value": "web", "ResourceId": AMI, "ResourceType": "image"}]}),
    ("DeleteKeyPair", {"Return": True, "KeyPairId": "key-00000000000000001"}),
    ("CreateSecurityGroup", {"GroupId": SG, "Tags": [{"Key": "Team", "Value": "web"}]}),
    # No output shape in EC2's model: amid's Return is written as EC2 writes it.
    ("RebootInstances", {"Return": True}),
]

DRIVER = r"""
#include <iostream>
#include <string>
#include "daemon/api/query_protocol.h"
// One JSON line in ({"action", "answer"}), one JSON line out ({"xml"} or {"error"}).
int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    auto in = amid::protocol::Json::parse(line);
    amid::protocol::Json out;
    try {
      out["xml"] = amid::query::Ec2Model::instance().response_xml(in["action"], in["answer"], in["requestId"]);
    } catch (const std::exception& e) {
      out["error"] = e.what();
    }
    std::cout << out.dump() << std::endl;
  }
}
"""


def service_model():
    return botocore.session.get_session().get_service_model("ec2")


def expected_parameters(value, shape, serializer):
    """The request as amid's JSON should hold it: what botocore was given, with the
    two types whose wire text is not the value itself as botocore writes them."""
    kind = shape.type_name
    if kind == "structure":
        return {k: expected_parameters(v, shape.members[k], serializer) for k, v in value.items()}
    if kind == "list":
        return [expected_parameters(v, shape.member, serializer) for v in value]
    if kind == "blob":
        return serializer._get_base64(value)
    if kind == "timestamp":
        return serializer._convert_timestamp_to_str(value)
    return value


def missing_members(value, shape):
    """Members botocore's model lacks (an older botocore), as dotted names."""
    if shape.type_name == "structure":
        out = []
        for k, v in value.items():
            if k not in shape.members:
                out.append(k)
            else:
                out += [k + "." + m for m in missing_members(v, shape.members[k])]
        return out
    if shape.type_name == "list":
        return [m for v in value for m in missing_members(v, shape.member)]
    return []


def request_vectors(model):
    serializer = botocore.serialize.create_serializer("ec2")  # validates the request, as clients do
    helper = botocore.serialize.SERIALIZERS["ec2"]()  # its blob and timestamp writers, undecorated
    vectors = []
    for action, params in REQUESTS:
        if action not in model.operation_names:
            print(f"note: botocore {botocore.__version__} has no {action}; skipped", file=sys.stderr)
            continue
        op = model.operation_model(action)
        missing = missing_members(params, op.input_shape)
        if missing:
            print(f"note: botocore {botocore.__version__}'s {action} has no {', '.join(missing)}; skipped",
                  file=sys.stderr)
            continue
        body = serializer.serialize_to_request(params, op)["body"]
        assert body.pop("Action") == action and body.pop("Version") == "2016-11-15"
        form = [(k, str(v)) for k, v in body.items()]
        vectors.append((action, form, expected_parameters(params, op.input_shape, helper)))
    return vectors


def only_modelled(value, shape):
    """The answer as botocore's parser should give it back: EC2's members only,
    timestamps and blobs as botocore reads them."""
    kind = shape.type_name
    if kind == "structure":
        return {k: only_modelled(v, shape.members[k]) for k, v in value.items()
                if k in shape.members and v is not None}
    if kind == "list":
        return [only_modelled(v, shape.member) for v in value if v is not None]
    if kind == "timestamp":
        return parse_timestamp(value)
    if kind == "blob":
        return base64.b64decode(value)
    return value


def build_driver(workdir):
    """amid's response_xml as a program: query_protocol.cc, the model as the build embeds it."""
    with open(os.path.join(ROOT, "daemon", "api", "ec2_query_model.json"), encoding="utf-8") as f:
        text = f.read()
    parts = ",\n".join(f'R"amid_json({text[i:i + 16384]})amid_json"' for i in range(0, len(text), 16384))
    model_cc = os.path.join(workdir, "model.cc")
    with open(model_cc, "w", encoding="utf-8") as f:
        f.write('#include "daemon/api/ec2_query_model_json.h"\n'
                "std::string amid::query::ec2_query_model_json() {\n"
                f"  static const char* const kParts[] = {{{parts}}};\n"
                "  std::string s; for (const char* p : kParts) s += p; return s;\n}\n")
    driver_cc = os.path.join(workdir, "driver.cc")
    with open(driver_cc, "w", encoding="utf-8") as f:
        f.write(DRIVER)
    exe = os.path.join(workdir, "driver")
    subprocess.run(["g++", "-std=c++20", "-O1", "-I" + ROOT, driver_cc, model_cc,
                    os.path.join(ROOT, "daemon", "api", "query_protocol.cc"), "-lpugixml", "-o", exe],
                   check=True)
    return exe


def response_vectors(model):
    """amid's XML for each answer, checked by botocore's parser."""
    parser = botocore.parsers.create_parser("ec2")
    usable = [(a, r) for a, r in RESPONSES if a in model.operation_names]
    for a, _ in RESPONSES:
        if a not in model.operation_names:
            print(f"note: botocore {botocore.__version__} has no {a}; its answer is not checked", file=sys.stderr)
    with tempfile.TemporaryDirectory() as workdir:
        exe = build_driver(workdir)
        lines = "".join(json.dumps({"action": a, "answer": r, "requestId": REQUEST_ID}) + "\n" for a, r in usable)
        out = subprocess.run([exe], input=lines, capture_output=True, text=True, check=True).stdout
    vectors, failures = [], 0
    for (action, answer), line in zip(usable, out.splitlines()):
        result = json.loads(line)
        if "error" in result:
            print(f"FAIL {action}: response_xml refused: {result['error']}", file=sys.stderr)
            failures += 1
            continue
        xml = result["xml"]
        op = model.operation_model(action)
        parsed = parser.parse({"body": xml.encode("utf-8"), "headers": {}, "status_code": 200}, op.output_shape)
        metadata = parsed.pop("ResponseMetadata", None)
        want = only_modelled(answer, op.output_shape) if op.output_shape is not None else {}
        if parsed != want or (metadata or {}).get("RequestId") != REQUEST_ID:
            print(f"FAIL {action}: botocore read back\n  {parsed!r}\n  {metadata!r}\nexpected\n  {want!r}",
                  file=sys.stderr)
            failures += 1
            continue
        print(f"ok {action}: botocore {botocore.__version__} reads amid's XML back to the answer "
              f"({len(xml)} bytes)", file=sys.stderr)
        vectors.append((action, answer, xml))
    return vectors, failures


def cpp_string(s):
    """A C++ string literal of s: UTF-8 bytes past ASCII as octal escapes (which, unlike
    \\x, end after three digits)."""
    out = ['"']
    for b in s.encode("utf-8"):
        c = chr(b)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif 0x20 <= b < 0x7f:
            out.append(c)
        else:
            out.append("\\%03o" % b)
    out.append('"')
    return "".join(out)


def raw(s):
    """A C++ raw string literal of s (UTF-8 as is)."""
    assert ")json\"" not in s
    return 'R"json(' + s + ')json"'


def wrapped(items, indent, width=112):
    """items joined with ", ", broken into lines of at most `width` characters."""
    lines, line = [], ""
    for item in items:
        piece = item if not line else ", " + item
        if line and len(indent) + len(line) + len(piece) > width:
            lines.append(line + ",")
            line = item
        else:
            line += piece
    lines.append(line)
    return ("\n" + indent).join(lines)


def cpp(requests, responses):
    dump = lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    lines = [BEGIN,
             f"// Generated by tests/unit/api/query_vectors.py with botocore {botocore.__version__};",
             "// rerun it with --write to regenerate (its --help says when).",
             "const std::vector<RequestVector> kBotocoreRequests = {"]
    for action, form, params in requests:
        pairs = ["{" + cpp_string(k) + ", " + cpp_string(v) + "}" for k, v in form]
        lines.append(f"    {{{cpp_string(action)},\n     {{{wrapped(pairs, '      ')}}},\n     {raw(dump(params))}}},")
    lines.append("};")
    lines.append("const std::vector<ResponseVector> kBotocoreResponses = {")
    for action, answer, xml in responses:
        lines.append(f"    {{{cpp_string(action)},\n     {raw(dump(answer))},\n     {raw(xml)}}},")
    lines.append("};")
    lines.append(END)
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="\n\n".join(__doc__.split("\n\n")[1:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="rewrite the vectors in " + TEST_FILE)
    ap.add_argument("--driver-check", action="store_true",
                    help="only check that botocore reads amid's XML back; write nothing")
    args = ap.parse_args()
    model = service_model()
    responses, failures = response_vectors(model)
    if args.driver_check:
        sys.exit(1 if failures else 0)
    if failures:
        sys.exit(f"{failures} answers did not come back through botocore's parser: nothing written")
    text = cpp(request_vectors(model), responses)
    if not args.write:
        sys.stdout.write(text)
        return
    with open(TEST_FILE, encoding="utf-8") as f:
        source = f.read()
    start, end = source.index(BEGIN), source.index(END) + len(END) + 1
    with open(TEST_FILE, "w", encoding="utf-8") as f:
        f.write(source[:start] + text + source[end:])
    print(f"rewrote the vectors in {TEST_FILE}", file=sys.stderr)


if __name__ == "__main__":
    main()
