// host/save_image.h: libvirt's QEMU save image, on synthetic images laid out as
// libvirt 9.0's virQEMUSaveDataWrite lays them out (header, XML, cookie, 64 KiB
// of zeros, a stand-in for QEMU's stream): read, rendered for a new XML, copied,
// and every damaged or unsupported image refused with a message naming the file.
#include "daemon/host/save_image.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "common/error.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using testing::has_substr;
using testing::read_text;
using testing::thrown;
using testing::write_text;

constexpr char kXml[] = "<domain type='qemu'><name>i-00000000000000001</name></domain>";
constexpr char kCookie[] = "<cookie><cpu mode='custom'/></cookie>";
const std::string kStream = std::string("QEVM\0\0\0\x03", 8) + "ram and devices";

// The parts of a save image, each overridable to make a damaged one.
struct ImageParts {
  std::string magic = "LibvirtQemudSave";
  std::uint32_t version = 2;
  std::uint32_t was_running = 1;
  std::uint32_t compressed = 0;
  std::string xml = kXml;
  std::string cookie = kCookie;  // "": none, cookieOffset 0
  std::uint32_t padding = 64 * 1024;
  std::string stream = kStream;
  // Set to write these instead of the values the parts imply.
  std::optional<std::uint32_t> data_len_override;
  std::optional<std::uint32_t> cookie_offset_override;
  bool xml_without_nul = false;
};

void put_u32(std::string& bytes, std::size_t at, std::uint32_t value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

std::string image_bytes(const ImageParts& p) {
  std::string data = p.xml;
  if (!p.xml_without_nul) data += '\0';
  const std::uint32_t cookie_offset = p.cookie.empty() ? 0 : static_cast<std::uint32_t>(data.size());
  if (!p.cookie.empty()) data += p.cookie + '\0';
  data += std::string(p.padding, '\0');

  std::string header(kSaveImageHeaderSize, '\0');
  std::memcpy(header.data(), p.magic.data(), 16);
  put_u32(header, 16, p.version);
  put_u32(header, 20, p.data_len_override.value_or(static_cast<std::uint32_t>(data.size())));
  put_u32(header, 24, p.was_running);
  put_u32(header, 28, p.compressed);
  put_u32(header, 32, p.cookie_offset_override.value_or(cookie_offset));
  return header + data + p.stream;
}

class SaveImageTest : public testing::TempDirTest {
 protected:
  std::string write_image(const ImageParts& parts, const std::string& name = "saved.img") {
    std::string path = tmp_.file(name);
    write_text(path, image_bytes(parts));
    return path;
  }

  // The message of the refusal to read `parts`; it names the file.
  std::string refusal(const ImageParts& parts) {
    std::string path = write_image(parts);
    AmidError e = thrown([&] { read_save_image_header(path); });
    EXPECT_EQ(e.code(), codes::kInternalError);
    EXPECT_TRUE(has_substr(e.what(), path));
    return e.what();
  }
};

TEST_F(SaveImageTest, ReadsTheXmlCookieAndWhereTheStreamStarts) {
  ImageParts parts;
  std::string path = write_image(parts);
  SaveImageHeader h = read_save_image_header(path);
  EXPECT_EQ(h.path, path);
  EXPECT_EQ(h.domain_xml, kXml);
  EXPECT_EQ(h.cookie_xml, kCookie);
  EXPECT_TRUE(h.was_running);
  const std::uint32_t data_len = sizeof kXml + sizeof kCookie + parts.padding;
  EXPECT_EQ(h.data_len, data_len);
  EXPECT_EQ(h.stream_offset, kSaveImageHeaderSize + data_len);
  EXPECT_EQ(read_text(path).substr(h.stream_offset), kStream);
}

TEST_F(SaveImageTest, ReadsAnImageWithoutACookie) {
  ImageParts parts;
  parts.cookie = "";
  parts.was_running = 0;
  SaveImageHeader h = read_save_image_header(write_image(parts));
  EXPECT_EQ(h.domain_xml, kXml);
  EXPECT_EQ(h.cookie_xml, "");
  EXPECT_FALSE(h.was_running);
}

// The stream must not move: the new header is exactly as long as the old one,
// its XML and cookie are the new XML and the old cookie, the rest zeros.
TEST_F(SaveImageTest, RenderedHeaderKeepsDataLenAndCookieWithTheNewXml) {
  SaveImageHeader original = read_save_image_header(write_image({}));
  const std::string new_xml = "<domain type='qemu'><name>i-0000000000000000f</name><uuid>u</uuid></domain>";
  std::string head = render_save_image_header(original, new_xml, true);
  ASSERT_EQ(head.size(), original.stream_offset);

  std::string path = tmp_.file("rendered.img");
  write_text(path, head + kStream);
  SaveImageHeader back = read_save_image_header(path);
  EXPECT_EQ(back.domain_xml, new_xml);
  EXPECT_EQ(back.cookie_xml, kCookie);
  EXPECT_EQ(back.data_len, original.data_len);
  EXPECT_EQ(back.stream_offset, original.stream_offset);

  std::uint32_t cookie_offset;
  std::memcpy(&cookie_offset, head.data() + 32, sizeof cookie_offset);
  EXPECT_EQ(cookie_offset, new_xml.size() + 1) << "libvirt's cookieOffset counts from the start of the data";
  EXPECT_EQ(head.substr(36, kSaveImageHeaderSize - 36), std::string(kSaveImageHeaderSize - 36, '\0'))
      << "the 14 unused u32s are zero, as libvirt writes them";
  const std::size_t used = kSaveImageHeaderSize + new_xml.size() + 1 + sizeof kCookie;
  EXPECT_EQ(head.substr(used), std::string(head.size() - used, '\0'));
}

TEST_F(SaveImageTest, RenderedHeaderOfAnImageWithoutACookieHasNone) {
  ImageParts parts;
  parts.cookie = "";
  SaveImageHeader original = read_save_image_header(write_image(parts));
  std::string head = render_save_image_header(original, "<domain/>", false);
  std::uint32_t cookie_offset;
  std::memcpy(&cookie_offset, head.data() + 32, sizeof cookie_offset);
  EXPECT_EQ(cookie_offset, 0u);
}

TEST_F(SaveImageTest, RunningChoosesWasRunning) {
  ImageParts parts;
  parts.was_running = 1;
  std::string src = write_image(parts);
  write_save_image(src, tmp_.file("paused.img"), kXml, false);
  EXPECT_FALSE(read_save_image_header(tmp_.file("paused.img")).was_running);

  parts.was_running = 0;
  src = write_image(parts, "saved-paused.img");
  write_save_image(src, tmp_.file("running.img"), kXml, true);
  EXPECT_TRUE(read_save_image_header(tmp_.file("running.img")).was_running);
}

TEST_F(SaveImageTest, WrittenImageHasTheNewXmlAndTheStreamUnchanged) {
  std::string src = write_image({});
  std::string dest = tmp_.file("i-0000000000000000f.img");
  const std::string new_xml = "<domain type='qemu'><name>i-0000000000000000f</name></domain>";
  write_save_image(src, dest, new_xml, true);

  SaveImageHeader h = read_save_image_header(dest);
  EXPECT_EQ(h.domain_xml, new_xml);
  EXPECT_EQ(h.cookie_xml, kCookie);
  std::string copied = read_text(dest);
  std::string original = read_text(src);
  EXPECT_EQ(copied.size(), original.size());
  EXPECT_EQ(copied.substr(h.stream_offset), original.substr(h.stream_offset));
  EXPECT_FALSE(testing::file_exists(dest + ".tmp"));
  struct stat st{};
  ASSERT_EQ(::stat(dest.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// A stream with a hole in it (QEMU's is written in order, but the copy must not
// depend on that) comes out byte for byte, hole and all.
TEST_F(SaveImageTest, WrittenImageKeepsAStreamWithAHole) {
  ImageParts parts;
  parts.stream = kStream + std::string(3 << 20, '\0') + "after the hole";
  std::string src = write_image(parts);
  const std::uint64_t hole_at = read_save_image_header(src).stream_offset + kStream.size();
  // Punch the zeros out, so the source really is sparse where the file system allows it.
  ASSERT_EQ(::truncate(src.c_str(), static_cast<off_t>(hole_at)), 0);
  ASSERT_EQ(::truncate(src.c_str(), static_cast<off_t>(hole_at + (3 << 20))), 0);
  {
    std::FILE* f = std::fopen(src.c_str(), "ab");
    ASSERT_NE(f, nullptr);
    std::fputs("after the hole", f);
    std::fclose(f);
  }
  ASSERT_TRUE(read_text(src) == image_bytes(parts));

  std::string dest = tmp_.file("copy.img");
  write_save_image(src, dest, kXml, true);
  std::string copied = read_text(dest);
  std::string original = read_text(src);
  ASSERT_EQ(copied.size(), original.size());
  EXPECT_TRUE(copied.substr(hole_at) == original.substr(hole_at)) << "the stream differs after the header";
}

TEST_F(SaveImageTest, RefusesANewXmlThatDoesNotFitAndSaysByHowMuch) {
  ImageParts parts;
  parts.padding = 10;
  SaveImageHeader original = read_save_image_header(write_image(parts));
  // 11 bytes longer than kXml: 10 fill the padding, 1 is too many.
  std::string longer = std::string(kXml) + std::string(11, ' ');
  AmidError e = thrown([&] { render_save_image_header(original, longer, true); });
  EXPECT_TRUE(has_substr(e.what(), original.path));
  EXPECT_TRUE(has_substr(e.what(), "1 bytes too many"));
  EXPECT_NO_THROW(render_save_image_header(original, std::string(kXml) + std::string(10, ' '), true));

  std::string dest = tmp_.file("too-big.img");
  thrown([&] { write_save_image(original.path, dest, longer, true); });
  EXPECT_FALSE(testing::file_exists(dest));
  EXPECT_FALSE(testing::file_exists(dest + ".tmp"));
}

TEST_F(SaveImageTest, RefusesAnEmptyNewXmlOrOneWithANul) {
  SaveImageHeader original = read_save_image_header(write_image({}));
  EXPECT_TRUE(has_substr(thrown([&] { render_save_image_header(original, "", true); }).what(), "empty"));
  EXPECT_TRUE(has_substr(
      thrown([&] { render_save_image_header(original, std::string("<domain/>\0x", 11), true); }).what(),
      "NUL"));
}

TEST_F(SaveImageTest, RefusesAMissingFile) {
  std::string path = tmp_.file("absent.img");
  EXPECT_TRUE(has_substr(thrown([&] { read_save_image_header(path); }).what(), "cannot open " + path));
}

TEST_F(SaveImageTest, RefusesAFileShorterThanTheHeader) {
  std::string path = tmp_.file("short.img");
  write_text(path, "LibvirtQemudSave");
  EXPECT_TRUE(has_substr(thrown([&] { read_save_image_header(path); }).what(), "shorter than the 92-byte header"));
}

TEST_F(SaveImageTest, RefusesAnotherMagic) {
  ImageParts parts;
  parts.magic = "QFI\xfb____________";
  EXPECT_TRUE(has_substr(refusal(parts), "does not start with LibvirtQemudSave"));
}

TEST_F(SaveImageTest, RefusesAnUnfinishedSave) {
  ImageParts parts;
  parts.magic = "LibvirtQemudPart";
  EXPECT_TRUE(has_substr(refusal(parts), "the save did not finish"));
}

TEST_F(SaveImageTest, RefusesVersionsOtherThanTwo) {
  for (std::uint32_t version : {1u, 3u}) {
    ImageParts parts;
    parts.version = version;
    EXPECT_TRUE(has_substr(refusal(parts), "version " + std::to_string(version) + "; amid reads version 2 only"));
  }
}

TEST_F(SaveImageTest, RefusesAnImageOfTheOtherByteOrder) {
  ImageParts parts;
  parts.version = __builtin_bswap32(2);
  EXPECT_TRUE(has_substr(refusal(parts), "other byte order"));
}

TEST_F(SaveImageTest, RefusesACompressedImageAndNamesTheCompression) {
  ImageParts parts;
  parts.compressed = 1;
  std::string message = refusal(parts);
  EXPECT_TRUE(has_substr(message, "compressed (gzip)"));
  EXPECT_TRUE(has_substr(message, "save_image_format"));
}

TEST_F(SaveImageTest, RefusesDataLenZeroOrTooLarge) {
  ImageParts parts;
  parts.data_len_override = 0;
  EXPECT_TRUE(has_substr(refusal(parts), "data_len 0 is not within 1..16777216"));
  parts.data_len_override = kSaveImageMaxDataLen + 1;
  EXPECT_TRUE(has_substr(refusal(parts), "data_len 16777217 is not within"));
}

TEST_F(SaveImageTest, RefusesDataLenPastTheEndOfTheFile) {
  ImageParts parts;
  parts.padding = 0;
  parts.stream = "";
  parts.data_len_override = 1 << 20;
  EXPECT_TRUE(has_substr(refusal(parts), "data_len 1048576 runs past the end of the file"));
}

TEST_F(SaveImageTest, RefusesAnXmlWithoutItsNul) {
  ImageParts parts;
  parts.cookie = "";
  parts.padding = 0;
  parts.xml_without_nul = true;
  EXPECT_TRUE(has_substr(refusal(parts), "the domain XML at data offset 0 has no NUL"));
}

TEST_F(SaveImageTest, RefusesAnEmptyXml) {
  ImageParts parts;
  parts.xml = "";
  EXPECT_TRUE(has_substr(refusal(parts), "the domain XML is empty"));
}

TEST_F(SaveImageTest, RefusesACookieOutsideTheData) {
  ImageParts parts;
  parts.cookie_offset_override = 1 << 20;
  EXPECT_TRUE(has_substr(refusal(parts), "cookieOffset 1048576 is outside"));
}

TEST_F(SaveImageTest, RefusesACookieWithoutItsNul) {
  ImageParts parts;
  parts.padding = 0;
  // The data ends with the cookie's NUL: count it out of data_len.
  parts.data_len_override = sizeof kXml + sizeof kCookie - 1;
  EXPECT_TRUE(has_substr(refusal(parts), "the cookie at data offset"));
}

TEST_F(SaveImageTest, RefusesAnImageWithoutAQemuStreamAfterTheData) {
  ImageParts parts;
  parts.stream = "QEVX and more";
  EXPECT_TRUE(has_substr(refusal(parts), "no QEMU migration stream (QEVM) at offset"));
  parts.stream = "";
  EXPECT_TRUE(has_substr(refusal(parts), "no QEMU migration stream"));
}

}  // namespace
}  // namespace amid
