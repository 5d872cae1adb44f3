// The divergence check's digest form (node/child/child_digest.h); the digest
// itself is tested with real children in tests/integration/digest_test.cc.
#include "node/child/child_digest.h"

#include "gtest/gtest.h"

namespace node {
namespace {

const std::string kData = "0123456789012345678901234567890123456789";
const std::string kSha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

TEST(ChildDigestTest, TheLeaderTakesEveryPartBoundedByTheBusyReplyThreshold) {
  EXPECT_EQ(LeaderParts(5000).streams_bound, 2'500'000);
  EXPECT_EQ(LeaderParts(1).streams_bound, 500);
  EXPECT_EQ(LeaderParts(0).streams_bound, 1);  // never "whatever the size"
  EXPECT_TRUE(LeaderParts(5000).functions);
  EXPECT_TRUE(LeaderParts(5000).users);
}

TEST(ChildDigestTest, AFollowerTakesThePartsTheLeaderTook) {
  DigestParts all = PartsToMatch(kData + ":" + kSha1 + ":abc:def");
  EXPECT_EQ(all.streams_bound, 0);
  EXPECT_TRUE(all.functions);
  EXPECT_TRUE(all.users);
  DigestParts big = PartsToMatch(kData + ":-:abc:def");
  EXPECT_EQ(big.streams_bound, -1);
  EXPECT_TRUE(big.functions);
  EXPECT_TRUE(big.users);
}

TEST(ChildDigestTest, ADigestOfAnEarlierLeaderHasOnlyItsDataPart) {
  EXPECT_EQ(InThisForm(kData), kData + ":-:-:-");
  DigestParts none = PartsToMatch(kData);
  EXPECT_EQ(none.streams_bound, -1);
  EXPECT_FALSE(none.functions);
  EXPECT_FALSE(none.users);
  // A leader from before <users>.
  EXPECT_EQ(InThisForm(kData + ":" + kSha1 + ":abc"), kData + ":" + kSha1 + ":abc:-");
  EXPECT_FALSE(PartsToMatch(kData + ":" + kSha1 + ":abc").users);
  EXPECT_EQ(InThisForm(kData + ":" + kSha1 + ":abc:def"), kData + ":" + kSha1 + ":abc:def");
}

TEST(ChildDigestTest, Sha256) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace node
