// Pins the ABI: the SHA-256 of plugin.h, the version macros and the struct layouts (LP64).
#include <agentd/plugin.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "common/sha256.h"

namespace {

// sha256sum sdk/include/agentd/plugin.h
constexpr const char* kPluginHeaderSha256 =
    "784e8372d47e540635308751be6b76521a96be0f7de6af67f1ae633ae1fafd86";

TEST(SdkAbi, HeaderHashIsPinned) {
  const std::string path = AGENTD_SOURCE_DIR "/sdk/include/agentd/plugin.h";
  auto hash = agentd::fileSha256Hex(path);
  ASSERT_TRUE(hash.ok()) << hash.status().toString();
  EXPECT_EQ(*hash, kPluginHeaderSha256)
      << "plugin.h changed: if intended, bump AGENTD_ABI_MINOR/MAJOR per sdk/ABI.md and update "
         "this hash";
}

TEST(SdkAbi, VersionMacros) {
  EXPECT_EQ(AGENTD_ABI_MAJOR, 1u);
  EXPECT_EQ(AGENTD_ABI_MINOR, 1u);
  EXPECT_EQ(AGENTD_ABI_VERSION, (1u << 16) | 1u);
  EXPECT_EQ(AGENTD_ABI_VERSION_MAJOR((2u << 16) | 7u), 2u);
  EXPECT_EQ(AGENTD_ABI_VERSION_MINOR((2u << 16) | 7u), 7u);
}

TEST(SdkAbi, StatusAndEnumValuesAreStable) {
  EXPECT_EQ(AGENTD_OK, 0);
  EXPECT_EQ(AGENTD_ERR, 1);
  EXPECT_EQ(AGENTD_EINVAL, 2);
  EXPECT_EQ(AGENTD_ENOTSUP, 3);
  EXPECT_EQ(AGENTD_ETIMEDOUT, 4);
  EXPECT_EQ(AGENTD_ECANCELED, 5);
  EXPECT_EQ(AGENTD_ENOTFOUND, 6);
  EXPECT_EQ(AGENTD_KIND_TOOL, 1);
  EXPECT_EQ(AGENTD_KIND_SKILL, 2);
  EXPECT_EQ(AGENTD_KIND_MCP_ADAPTER, 3);
  EXPECT_EQ(AGENTD_METRIC_COUNTER, 1);
  EXPECT_EQ(AGENTD_METRIC_GAUGE, 2);
  EXPECT_EQ(AGENTD_METRIC_HISTOGRAM, 3);
  EXPECT_EQ(AGENTD_LOG_DEBUG, 1);
  EXPECT_EQ(AGENTD_LOG_ERROR, 4);
  EXPECT_EQ(AGENTD_TOOL_INLINE, 1u);
}

#if defined(__LP64__)
// Append-only: a field that moves breaks every plugin built before the move.
static_assert(sizeof(agentd_str) == 16);
static_assert(offsetof(agentd_host_api, struct_size) == 0);
static_assert(offsetof(agentd_host_api, abi_version) == 4);
static_assert(offsetof(agentd_host_api, log) == 8);
static_assert(offsetof(agentd_host_api, metric_define) == 16);
static_assert(offsetof(agentd_host_api, metric_record) == 24);
static_assert(offsetof(agentd_host_api, tools_changed) == 32);
static_assert(offsetof(agentd_host_api, emit_text) == 40);
static_assert(offsetof(agentd_host_api, emit_json) == 48);
static_assert(offsetof(agentd_host_api, set_error) == 56);
static_assert(offsetof(agentd_host_api, progress) == 64);
static_assert(offsetof(agentd_host_api, is_cancelled) == 72);
static_assert(offsetof(agentd_host_api, call_context) == 80);
static_assert(offsetof(agentd_host_api, add_tool) == 88);
static_assert(offsetof(agentd_host_api, add_skill) == 96);
static_assert(offsetof(agentd_host_api, add_tool_flags) == 104);  // 1.1
static_assert(sizeof(agentd_host_api) == 112);

static_assert(offsetof(agentd_plugin, struct_size) == 0);
static_assert(offsetof(agentd_plugin, abi_version) == 4);
static_assert(offsetof(agentd_plugin, kind) == 8);
static_assert(offsetof(agentd_plugin, reserved) == 12);
static_assert(offsetof(agentd_plugin, name) == 16);
static_assert(offsetof(agentd_plugin, version) == 24);
static_assert(offsetof(agentd_plugin, description) == 32);
static_assert(offsetof(agentd_plugin, config_schema) == 40);
static_assert(offsetof(agentd_plugin, create) == 48);
static_assert(offsetof(agentd_plugin, reconfigure) == 56);
static_assert(offsetof(agentd_plugin, destroy) == 64);
static_assert(offsetof(agentd_plugin, last_error) == 72);
static_assert(offsetof(agentd_plugin, health) == 80);
static_assert(offsetof(agentd_plugin, list_tools) == 88);
static_assert(offsetof(agentd_plugin, invoke) == 96);
static_assert(offsetof(agentd_plugin, list_skills) == 104);
static_assert(offsetof(agentd_plugin, end_task) == 112);
static_assert(sizeof(agentd_plugin) == 120);
#endif

}  // namespace
