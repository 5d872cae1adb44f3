#include "node/front/function_payload.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/front/request_router_parts.h"

namespace node {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using routing::NamesSetRepl;
using routing::ScriptRefusal;

// FUNCTION DUMP of a plain redis-server 7.0.15 holding two libraries: the
// first, which calls redis.set_repl, LZF-compressed (its code repeats
// itself); the second, short, stored as it is.
const std::string kDumped = absl::HexStringToBytes(
    "f5c340a140c71f23216c7561206e616d653d73720a2d2d206120636f6d6d656e7420746861742007726570656174732ce011081f0a72"
    "656469732e72656769737465725f66756e6374696f6e2827737278272c20e0000f026b65792047046172677329204d4033037365745f"
    "2060016c28800e0a5245504c5f4e4f4e45293b2020037475726e200640270863616c6c2827534554204e4045025b315d804820080529"
    "20656e6429f5404123216c7561206e616d653d780a72656469732e72656769737465725f66756e6374696f6e282766272c66756e6374"
    "696f6e28292072657475726e203120656e64290a00f0cde73e818418ab");

std::string Footer() { return std::string("\x0a\x00", 2) + std::string(8, '\x7f'); }

TEST(FunctionPayloadTest, ReadsRedisOwnDumpCompressedOrNot) {
  const std::optional<FunctionPayload> p = ReadFunctionPayload(kDumped);
  ASSERT_TRUE(p.has_value());
  ASSERT_EQ(p->codes.size(), 2u);
  EXPECT_THAT(p->codes[0], HasSubstr("redis.set_repl(redis.REPL_NONE); return redis.call('SET', keys[1], args[1])"));
  EXPECT_TRUE(p->codes[0].starts_with("#!lua name=sr\n-- a comment that repeats, repeats"));
  EXPECT_EQ(p->codes[1], "#!lua name=x\nredis.register_function('f',function() return 1 end)");
  EXPECT_FALSE(p->too_big);
}

TEST(FunctionPayloadTest, LengthsOfEveryWidth) {
  for (const size_t size : {size_t{5}, size_t{63}, size_t{64}, size_t{16383}, size_t{16384}, size_t{70000}}) {
    const std::string code(size, 'c');
    std::string payload = "\xf5";
    if (size < 64) {
      payload += static_cast<char>(size);
    } else if (size < 16384) {
      payload += static_cast<char>(0x40 | (size >> 8));
      payload += static_cast<char>(size & 0xff);
    } else {
      payload += '\x80';
      for (int shift = 24; shift >= 0; shift -= 8) payload += static_cast<char>((size >> shift) & 0xff);
    }
    const std::optional<FunctionPayload> p = ReadFunctionPayload(payload + code + Footer());
    ASSERT_TRUE(p.has_value()) << size;
    EXPECT_THAT(p->codes, ElementsAre(code)) << size;
  }
}

// An RDB's head as Redis 7.0 writes it: the header, aux fields, the
// libraries (as in a FUNCTION DUMP), then the first database.
TEST(FunctionPayloadTest, ReadsTheLibrariesAtAnRdbsHead) {
  const std::string libraries = kDumped.substr(0, kDumped.size() - 10);  // without the dump's footer
  const std::string aux = std::string("\xfa\x09redis-ver\x06" "7.0.15") + "\xfa\x0aredis-bits\xc0\x40";
  const std::string head = "REDIS0010" + aux + libraries + "\xfe\x00\xfb\x01\x00";
  const std::optional<FunctionPayload> p = ReadRdbFunctions(head);
  ASSERT_TRUE(p.has_value());
  ASSERT_EQ(p->codes.size(), 2u);
  EXPECT_TRUE(NamesSetRepl(p->codes[0]));
  EXPECT_EQ(p->codes[1], "#!lua name=x\nredis.register_function('f',function() return 1 end)");
  // No libraries: none; a head cut inside them: read more; not an RDB: none.
  EXPECT_THAT(ReadRdbFunctions("REDIS0010" + aux + "\xff")->codes, ElementsAre());
  EXPECT_FALSE(ReadRdbFunctions("REDIS0010" + aux + libraries.substr(0, 50)).has_value());
  EXPECT_FALSE(ReadRdbFunctions("REDIS0010" + aux).has_value());
  EXPECT_FALSE(ReadRdbFunctions("NOTRDB0010\xff").has_value());
}

TEST(FunctionPayloadTest, WhatIsNotAPayloadIsNone) {
  EXPECT_FALSE(ReadFunctionPayload("").has_value());
  EXPECT_FALSE(ReadFunctionPayload("redis.set_repl(redis.REPL_NONE)").has_value());  // not the opcode
  EXPECT_FALSE(ReadFunctionPayload(kDumped.substr(0, 40) + Footer()).has_value());    // cut short
  EXPECT_FALSE(ReadFunctionPayload(std::string("\xf5\x3f", 2) + "short" + Footer()).has_value());
  // Compressed bytes that do not decompress to the size they claim.
  EXPECT_FALSE(ReadFunctionPayload(std::string("\xf5\xc3\x05\x20", 4) + "xxxxx" + Footer()).has_value());
}

// A payload may claim any size for a compressed code: past the bound it is
// not decompressed (the node refuses it rather than check it).
TEST(FunctionPayloadTest, ACodeClaimingMoreThanTheBoundIsNotDecompressed) {
  std::string payload("\xf5\xc3\x03\x81", 4);  // compressed: 3 bytes; plain: a 64-bit length
  const uint64_t claimed = uint64_t{1} << 40;
  for (int shift = 56; shift >= 0; shift -= 8) payload += static_cast<char>((claimed >> shift) & 0xff);
  payload += "abc";
  const std::optional<FunctionPayload> p = ReadFunctionPayload(payload + Footer());
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->too_big);
}

// Regressions: a FUNCTION RESTORE payload was searched as it is, so the
// compressed library of every real dump that called redis.set_repl passed
// (the leader's child alone then held its writes: a divergence); and the
// search took any name holding set_repl (offset_replay, asset_replace) for a
// call of it.
TEST(FunctionPayloadTest, ScriptRefusalReadsRestoredLibrariesAndMatchesTheWord) {
  const std::vector<std::string_view> restore = {"FUNCTION", "RESTORE", kDumped};
  EXPECT_TRUE(ScriptRefusal("function", restore).has_value());
  const std::string clean = "\xf5\x0c" + std::string("return 'ok'!") + Footer();
  EXPECT_FALSE(ScriptRefusal("function", std::vector<std::string_view>{"FUNCTION", "RESTORE", clean}).has_value());
  EXPECT_FALSE(NamesSetRepl("return redis.call('HSET', KEYS[1], 'offset_replay', ARGV[1])"));
  EXPECT_FALSE(NamesSetRepl("redis.register_function('asset_replace', function(k, a) return 1 end)"));
  EXPECT_TRUE(NamesSetRepl("redis.set_repl(redis.REPL_NONE)"));
  EXPECT_TRUE(NamesSetRepl("local f = redis['set_repl']"));
  EXPECT_TRUE(NamesSetRepl("set_repl"));
}

}  // namespace
}  // namespace node
