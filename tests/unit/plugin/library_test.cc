// Library::open: every rejection the loader promises, with the reason and a clear message.
#include "plugin/library.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "unit/plugin/fixture_paths.h"

namespace agentd::plugin {
namespace {

using agentd::testing::fixture;

struct Rejection {
  std::string fixture;
  LoadFailure why;
  std::vector<std::string> message_parts;
};

class LibraryRejects : public ::testing::TestWithParam<Rejection> {};

TEST_P(LibraryRejects, WithReasonAndMessage) {
  const Rejection& r = GetParam();
  std::string dir = agentd::testing::tempDir("lib");
  LoadFailure why = LoadFailure::kNone;
  auto lib = Library::open(fixture(r.fixture), dir, "", &why);
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(why, r.why) << lib.status().message();
  for (const auto& part : r.message_parts) {
    EXPECT_NE(lib.status().message().find(part), std::string::npos)
        << "message '" << lib.status().message() << "' lacks '" << part << "'";
  }
  // The private copy is removed again.
  EXPECT_TRUE(std::filesystem::is_empty(dir) || !std::filesystem::exists(dir));
}

INSTANTIATE_TEST_SUITE_P(
    AllCases, LibraryRejects,
    ::testing::Values(
        Rejection{"not_elf", LoadFailure::kNotElf, {"not an ELF"}},
        Rejection{"missing_symbol", LoadFailure::kMissingEntry, {"agentd_plugin_entry"}},
        Rejection{"null_entry", LoadFailure::kNullDescriptor, {"returned NULL", "1.1"}},
        Rejection{"wrong_major", LoadFailure::kAbiMismatch, {"2.0", "1.1", "major"}},
        Rejection{"future_minor", LoadFailure::kAbiMismatch, {"1.7", "1.1", "newer"}},
        Rejection{"short_struct", LoadFailure::kBadDescriptor, {"struct_size"}},
        Rejection{"null_callbacks", LoadFailure::kBadDescriptor, {"NULL", "create", "invoke"}},
        Rejection{"does_not_exist", LoadFailure::kNotFound, {"does_not_exist"}}),
    [](const auto& info) { return info.param.fixture; });

TEST(Library, LoadsAPluginBuiltForAnOlderMinor) {
  LoadFailure why;
  auto lib = Library::open(fixture("good_c"), agentd::testing::tempDir("lib"), "", &why);
  ASSERT_TRUE(lib.ok()) << lib.status().message();
  EXPECT_EQ((*lib)->abiString(), "1.0");  // the host is 1.1
}

TEST(Library, OpensGoodPluginFromAUniqueCopyAndUnloads) {
  std::string dir = agentd::testing::tempDir("lib");
  LoadFailure why;
  auto a = Library::open(fixture("good_cpp"), dir, "", &why);
  auto b = Library::open(fixture("good_cpp"), dir, "", &why);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_STREQ((*a)->descriptor().name, "good");
  EXPECT_EQ((*a)->abiString(), "1.1");
  EXPECT_NE((*a)->copyPath(), (*b)->copyPath());
  // Two copies are two images: distinct descriptors.
  EXPECT_NE(&(*a)->descriptor(), &(*b)->descriptor());
  std::string copy = (*a)->copyPath();
  EXPECT_TRUE((*a)->close().isOk());
  EXPECT_EQ(dlopen(copy.c_str(), RTLD_LAZY | RTLD_NOLOAD), nullptr);
  EXPECT_FALSE(std::filesystem::exists(copy));
  EXPECT_TRUE((*b)->close().isOk());
}

TEST(Library, ChecksumPinIsEnforced) {
  std::string dir = agentd::testing::tempDir("lib");
  LoadFailure why;
  auto lib = Library::open(fixture("good_cpp"), dir, std::string(64, '0'), &why);
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(why, LoadFailure::kChecksum);
  EXPECT_NE(lib.status().message().find("sha256 mismatch"), std::string::npos);
}

TEST(Library, PlainCPluginLoads) {
  std::string dir = agentd::testing::tempDir("lib");
  LoadFailure why;
  auto lib = Library::open(fixture("good_c"), dir, "", &why);
  ASSERT_TRUE(lib.ok()) << lib.status().message();
  EXPECT_STREQ((*lib)->descriptor().name, "good_c");
  EXPECT_TRUE((*lib)->close().isOk());
}

}  // namespace
}  // namespace agentd::plugin
